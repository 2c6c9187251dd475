"""Fuse consecutive affine maps: stages -> layers of a :class:`~sortnet.nn.model.CompiledModel`.

Between two stages sits ``post_l`` then ``pre_{l+1}``: two affine maps with no
activation in between, multiplied into one weight matrix. The last ``post``
is multiplied into the output map (output permutation, and the k-th readout
W3), so a network of depth D gives D hidden layers plus one output layer.
Residual stages keep their stream explicit: each becomes a residual block
(``skip = I``), and the output map is folded into the last block's skip and
output weights.

Matrices stay sparse here; a layer is stored dense when that is smaller.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse

from compilers.stage import Stage
from sortnet.nn.model import Layer, Matrix

#: Store a matrix dense when it has at most this many entries or is this dense.
DENSE_MAX_SIZE = 1024
DENSE_MIN_DENSITY = 0.25


def storage(matrix: scipy.sparse.csr_array) -> Matrix:
    """``matrix`` as stored in the model: dense if small or dense enough, else CSR."""
    matrix = scipy.sparse.csr_array(matrix)
    matrix.eliminate_zeros()
    size = matrix.shape[0] * matrix.shape[1]
    if size <= DENSE_MAX_SIZE or matrix.nnz >= DENSE_MIN_DENSITY * size:
        return matrix.toarray()
    return matrix


def fuse(stages: Sequence[Stage], output: scipy.sparse.csr_array, *, inputs: int) -> list[Layer]:
    """Layers computing ``output @ (stages applied to x)`` with every affine pair fused.

    Parameters
    ----------
    stages : sequence of Stage
        Unfused stages, all plain or all residual.
    output : (outputs, width) sparse matrix
        The output map applied to the last stage's values.
    inputs : int
        Width of the model input.
    """
    if any(stage.residual for stage in stages):
        return _fuse_residual(stages, output, inputs)
    carried = scipy.sparse.identity(inputs, format="csr")  # values = carried @ h + offset
    offset = np.zeros(inputs)
    layers = []
    for stage in stages:
        weight = scipy.sparse.csr_array(stage.pre @ carried)
        bias = stage.pre @ offset + stage.pre_bias
        layers.append(Layer(storage(weight), bias, stage.activations, labels=stage.labels))
        carried, offset = stage.post, stage.post_bias
    weight = scipy.sparse.csr_array(output @ carried)
    rows = weight.shape[0]
    labels = tuple(f"y{r}" for r in range(rows))
    layers.append(Layer(storage(weight), output @ offset, ("identity",) * rows, labels=labels))
    return layers


def _fuse_residual(
    stages: Sequence[Stage], output: scipy.sparse.csr_array, inputs: int
) -> list[Layer]:
    layers = []
    for position, stage in enumerate(stages):
        last = position == len(stages) - 1
        width = stage.post.shape[0]
        skip = output if last else scipy.sparse.identity(width, format="csr")
        out_weight = scipy.sparse.csr_array(skip @ stage.post)
        if np.any(stage.post_bias):
            raise ValueError("residual stages carry no output bias")
        layers.append(
            Layer(
                storage(stage.pre),
                stage.pre_bias,
                stage.activations,
                out_weight=storage(out_weight),
                skip=storage(scipy.sparse.csr_array(skip)),
                labels=stage.labels,
            )
        )
    if not layers:  # nothing to compare (n = 1 or no live comparator): only the output map
        rows = output.shape[0]
        labels = tuple(f"y{r}" for r in range(rows))
        layers.append(Layer(storage(output), np.zeros(rows), ("identity",) * rows, labels=labels))
    return layers

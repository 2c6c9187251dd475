"""A compiled model flattened into the arrays the generic model kernel reads.

:func:`program` turns the layers of a :class:`~sortnet.nn.model.CompiledModel` into
one entry per unit and one per non-zero term (see :mod:`sortnet.nn.generic`), for a
given dtype: weights and biases are cast to it and those that become 0 are left out,
as the straight-line kernels leave them out (``0 * v`` adds exactly 0 to a finite sum).

Buffer rows. Regions of ``W`` rows each (``W`` the widest layer): a layer reads its
input from one region, writes its hidden units into another, and a residual block
writes its outputs into a third; the next layer reads whichever region holds the
outputs. The model's input is region 0 (rows ``0..n-1``). A model without residual
blocks needs two regions, which keeps the C kernel's block buffer in the L1 cache
(relu, n = 32: 1.1x faster than with three).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from sortnet.nn.layer import csr

if TYPE_CHECKING:
    from sortnet.nn.model import CompiledModel

#: Activation codes, in the order :mod:`sortnet.nn.generic` tests them.
CODES = ("identity", "abs", "relu", "step", "indicator", "softplus")


@dataclass(frozen=True)
class Program:
    """The arrays of one model in one dtype (the generic kernel's arguments)."""

    width: int
    units: np.ndarray  # (units, 4) intp: target row, first term, stop term, code
    biased: np.ndarray  # (units,) bool
    bias: np.ndarray  # (units,) dtype
    terms: np.ndarray  # (terms,) intp: the buffer row each term reads
    weights: np.ndarray  # (terms,) dtype
    outputs: np.ndarray  # (outputs,) intp: the buffer row of each output

    def arguments(self) -> tuple[Any, ...]:
        """Everything after ``X, Y`` in a call of the generic kernel."""
        return (
            self.width,
            self.units,
            self.biased,
            self.bias,
            self.terms,
            self.weights,
            self.outputs,
        )


def supported(model: CompiledModel) -> bool:
    """Whether every activation of ``model`` has a code in the generic kernel.

    Examples
    --------
    >>> import compilers, sortnet
    >>> supported(compilers.compile(sortnet.network("bitonic", 4), "relu"))
    True
    """
    return all(name in CODES for layer in model.layers for name in layer.activations)


def program(model: CompiledModel, dtype: Any) -> Program:
    """The generic kernel's arrays for ``model`` in ``dtype`` (kept on the model).

    Examples
    --------
    >>> import compilers, sortnet
    >>> model = compilers.compile(sortnet.Network.from_comparators(2, [(0, 1)]), "abs")
    >>> p = program(model, np.float64)
    >>> p.units.shape, p.terms.size, p.outputs.tolist()  # two layers: back in region 0
    ((4, 4), 8, [0, 1])
    """
    dtype = np.dtype(dtype)
    return model.memo(("generic program", dtype), lambda: _build(model, dtype))  # type: ignore[no-any-return]


def _build(model: CompiledModel, dtype: np.dtype) -> Program:
    width = max([model.n] + [max(layer.units, layer.outputs) for layer in model.layers])
    units: list[tuple[int, int, int, int]] = []
    biased: list[bool] = []
    bias: list[float] = []
    terms: list[int] = []
    weights: list[float] = []

    def add_terms(matrix: Any, row: int, base: int) -> None:
        start, stop = matrix.indptr[row], matrix.indptr[row + 1]
        for column, weight in zip(matrix.indices[start:stop], matrix.data[start:stop], strict=True):
            if dtype.type(weight) != 0:  # 0 * v adds exactly 0: leave it out
                terms.append(base + int(column))
                weights.append(weight)

    current = 0  # the region holding the layer's input
    residual = any(
        layer.out_weight is not None and layer.skip is not None for layer in model.layers
    )
    regions = 3 if residual else 2
    for layer in model.layers:
        hidden = (current + 1) % regions
        weight = csr(layer.weight)
        for unit, name in enumerate(layer.activations):
            first = len(terms)
            add_terms(weight, unit, current * width)
            b = dtype.type(layer.bias[unit])
            units.append((hidden * width + unit, first, len(terms), CODES.index(name)))
            biased.append(bool(b != 0))
            bias.append(float(b))
        if layer.out_weight is None or layer.skip is None:
            current = hidden
            continue
        target = 3 - current - hidden  # the third region (regions == 3 here)
        skip, out = csr(layer.skip), csr(layer.out_weight)
        for row in range(layer.outputs):  # skip @ v + out_weight @ h, one sum
            first = len(terms)
            add_terms(skip, row, current * width)
            add_terms(out, row, hidden * width)
            units.append((target * width + row, first, len(terms), 0))
            biased.append(False)
            bias.append(0.0)
        current = target
    return Program(
        width=regions * width,
        units=np.array(units, dtype=np.intp).reshape(-1, 4),
        biased=np.array(biased, dtype=np.bool_),
        bias=np.array(bias, dtype=dtype),
        terms=np.array(terms, dtype=np.intp),
        weights=np.array(weights, dtype=dtype),
        outputs=np.arange(model.n_outputs, dtype=np.intp) + current * width,
    )

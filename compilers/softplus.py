"""The ``softplus`` lowering: the residual gadget with each ReLU made smooth.

A comparator ``(i, j)`` becomes one unit ``d = softplus(beta (x_i - x_j))`` and the
updates ``x_i -= d / beta``, ``x_j += d / beta``: ``min = a - softplus_beta(a - b)``,
``max = b + softplus_beta(a - b)`` with ``softplus_beta(z) = log(1 + exp(beta z)) / beta``.
The steepness ``beta`` is folded into the weights (``beta`` into the unit's input
weights, ``1 / beta`` into its output weights), so the unit is the parameter-free
registry activation ``softplus`` (ONNX ``Softplus``, ``beta = 1``) and the model is
an ordinary residual MLP: the executors, model files and ONNX export need nothing
new. The model's metadata records ``steepness``. The math (monotone, doubly
stochastic Jacobian, error ``<= depth * log(2) / beta``) is in :mod:`sortnet.nn.soft`.
"""

from __future__ import annotations

from typing import Any

from compilers.errors import CompileError
from compilers.fuse import fuse
from compilers.gadgets import Gadget, Lowering, Unit
from compilers.lower import lower_comparators
from compilers.metadata import model_metadata
from compilers.output import output_map, readout
from sortnet import nodes
from sortnet.errors import SortnetError
from sortnet.network import Network
from sortnet.nn.activations import check_steepness, input_bound
from sortnet.nn.model import CompiledModel
from sortnet.select import resolve_k, select


def softplus_lowering(steepness: float) -> Lowering:
    """The ``softplus`` lowering at ``steepness`` (a checked, positive float).

    Examples
    --------
    >>> rule = softplus_lowering(4.0)
    >>> gadget = rule.compare(0, 1, 2)
    >>> gadget.units[0].activation, gadget.units[0].pre, gadget.post
    ('softplus', {1: 4.0, 2: -4.0}, {1: {0: -0.25}, 2: {0: 0.25}})
    """
    beta = float(steepness)

    def compare(index: int, i: int, j: int) -> Gadget:
        label = f"c{index} softplus({beta:g}(x{i}-x{j}))"
        unit = Unit("softplus", {i: beta, j: -beta}, label)
        return Gadget([unit], {i: {0: -1.0 / beta}, j: {0: 1.0 / beta}})

    return Lowering(
        "softplus",
        compare,
        None,
        residual=True,
        description=f"smooth residual MLP: softplus_beta, beta = {beta:g}, plus a skip connection",
    )


def compile_softplus(
    net: Network, lowering: str | None, k: int | str | None, *, bound: float | None, steepness: Any
) -> CompiledModel:
    """:func:`compilers.compile` for ``lowering="softplus"`` (or any call with ``steepness``).

    The same pipeline as the exact lowerings (select, lower, fuse) with the
    softplus gadget. The model's ``bound`` is the smaller of ``bound`` and
    :func:`sortnet.nn.activations.input_bound` (so ``beta * (a - b)`` cannot overflow) and
    its metadata holds ``steepness``.

    Examples
    --------
    >>> import compilers, sortnet
    >>> model = compilers.compile(sortnet.network("bubble", 2), "softplus", steepness=2.0)
    >>> model.metadata["steepness"], model.layers[0].weight, model.layers[0].out_weight
    (2.0, array([[ 2., -2.]]), array([[-0.5],
           [ 0.5]]))
    >>> model([[3.0, 1.0]]).round(4)  # 1 and 3, each within log(2) / beta
    array([[0.9909, 3.0091]])
    >>> compilers.compile(sortnet.network("bubble", 2), "relu", steepness=2.0)
    Traceback (most recent call last):
    ...
    compilers.errors.CompileError: steepness is for the 'softplus' lowering, not 'relu'
    """

    if lowering != "softplus":
        raise CompileError(f"steepness is for the 'softplus' lowering, not {lowering!r}")
    if net.kind == nodes.COUNTING_KIND:
        raise CompileError("counting networks use the 'counting' lowering, not 'softplus'")
    if steepness is None:
        raise CompileError("the 'softplus' lowering needs a steepness (e.g. steepness=10.0)")
    try:
        beta = check_steepness(steepness)
    except SortnetError as error:
        raise CompileError(str(error)) from None
    rank = None if k is None else resolve_k(net, k)
    source = net if rank is None else select(net, rank)
    stages = lower_comparators(source, softplus_lowering(beta))
    layers = fuse(stages, output_map(source, rank), inputs=net.n)
    limit = input_bound(beta) if bound is None else min(bound, input_bound(beta))
    metadata = model_metadata(net, "softplus", rank, limit, source)
    w3 = None if rank is None else readout(net.n, rank, descending=net.descending)
    metadata["readout"] = None if w3 is None else w3.tolist()
    metadata["steepness"] = beta
    return CompiledModel(layers, metadata)

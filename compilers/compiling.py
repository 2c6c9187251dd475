"""The driver: one short function that shows the whole compilation pipeline.

::

    Network --select(k)--> Network --lower--> stages --fuse--> layers --> CompiledModel
                                       (gadgets / counting)     (+ output map, W3)
"""

from __future__ import annotations

import math
from typing import Any

from compilers.errors import CompileError
from compilers.fuse import fuse
from compilers.gadgets import LOWERINGS
from compilers.lower import lower_comparators
from compilers.lower_counting import lower_counting
from compilers.metadata import model_metadata
from compilers.output import counting_output_map, output_map, readout
from compilers.softplus import compile_softplus
from compilers.stage import check_stages
from sortnet import nodes
from sortnet.generators.counting import counting_network
from sortnet.network import Network
from sortnet.nn.model import CompiledModel
from sortnet.select import resolve_k as resolve_network_k
from sortnet.select import resolve_rank, select

#: Lowering names accepted by :func:`compile` (``counting`` only for counting networks).
LOWERING_NAMES = (*LOWERINGS, "softplus", "counting")
#: Default big-M bound of counting models: 2**100, exact in float32 and float64, and
#: 2 * M stays far below float32's largest value (~2**128), so no sum overflows.
DEFAULT_BOUND = 2.0**100
#: Largest accepted bound (keeps every sum of a counting model finite in float32).
MAX_BOUND = 2.0**120


def _check_bound(bound: Any) -> float | None:
    if bound is None:
        return None
    if isinstance(bound, (bool, str, bytes)):  # float("1") would work, but it is a mistake
        raise CompileError(f"bound must be a positive number, got {bound!r}")
    try:
        value = float(bound)
    except (TypeError, ValueError):
        raise CompileError(f"bound must be a positive number, got {bound!r}") from None
    if not (math.isfinite(value) and 0 < value <= MAX_BOUND):
        raise CompileError(f"bound must be a positive number <= 2**120, got {bound!r}")
    return value


def compile(  # noqa: A001 - the public name the design asks for
    net: Network,
    lowering: str | None = None,
    k: int | str | None = None,
    *,
    bound: float | None = None,
    steepness: float | None = None,
) -> CompiledModel:
    """Compile ``net`` to a :class:`~sortnet.nn.model.CompiledModel` that sorts or selects.

    Parameters
    ----------
    net : Network
        A comparator network (any family or import) or a counting network.
    lowering : {"relu", "abs", "residual", "counting", "softplus"}, optional
        How a comparator becomes units (see :mod:`compilers.gadgets`); default
        ``"relu"`` for comparator networks. Counting networks have their own
        lowering (``"counting"``, the default for them). ``"softplus"`` is the
        smooth residual lowering at ``steepness`` (see :mod:`compilers.softplus`).
    k : int or {"min", "median", "max"}, optional
        Output only the k-th smallest (1-based; ``"median"`` = rank ``(n+1)//2``):
        the network is pruned with ``sortnet.select`` and W3 is fused into the
        output layer. Output shape ``(batch, 1)``.
    bound : float, optional
        Refuse inputs with ``|x| > bound``. Counting models need one (big-M
        gating); their default is :data:`DEFAULT_BOUND` (``2**100``).
    steepness : float, optional
        ``beta`` of the ``softplus`` lowering (required by it, refused by the others).

    Returns
    -------
    CompiledModel
        A network of depth D gives D hidden layers plus an output layer
        (for ``residual``: D residual blocks, the last one holding the output map).

    Examples
    --------
    >>> model = compile(Network.from_comparators(2, [(0, 1)]), "abs")
    >>> model.layers[0].weight
    array([[ 0.5, -0.5],
           [ 0.5,  0.5]])
    >>> model.layers[1].weight
    array([[-1.,  1.],
           [ 1.,  1.]])
    >>> compile(Network.from_comparators(2, [(0, 1)]), "tanh")
    Traceback (most recent call last):
    ...
    compilers.errors.CompileError: unknown lowering 'tanh'; choose from abs, relu, ...softplus
    """
    if not isinstance(net, Network):
        raise CompileError(f"compile needs a sortnet Network, got {type(net).__name__}")
    bound = _check_bound(bound)
    if lowering == "softplus" or steepness is not None:
        return compile_softplus(net, lowering, k, bound=bound, steepness=steepness)
    if net.kind == nodes.COUNTING_KIND:
        rank = None if k is None else resolve_rank(k, net.n)
        if lowering not in (None, "counting"):
            raise CompileError(f"counting networks use the 'counting' lowering, not {lowering!r}")
        return _compile_counting(net, rank, DEFAULT_BOUND if bound is None else bound)
    rank = None if k is None else resolve_network_k(net, k)
    lowering = "relu" if lowering is None else lowering
    if lowering not in LOWERINGS:
        raise CompileError(
            f"unknown lowering {lowering!r}; choose from {', '.join((*LOWERINGS, 'softplus'))}"
        )
    source = net if rank is None else select(net, rank)
    stages = lower_comparators(source, lowering)
    check_stages(stages, inputs=net.n)
    layers = fuse(stages, output_map(source, rank), inputs=net.n)
    metadata = model_metadata(net, lowering, rank, bound, source)
    w3 = None if rank is None else readout(net.n, rank, descending=net.descending)
    metadata["readout"] = None if w3 is None else w3.tolist()
    return CompiledModel(layers, metadata)


def _compile_counting(net: Network, rank: int | None, bound: float) -> CompiledModel:
    if rank is not None and len(net.outputs) != 1:
        net = counting_network(net.n, rank)  # the counting analogue of select()
    if rank is None and len(net.outputs) == 1:
        rank = next(iter(net.outputs)) + 1
    stages, positions = lower_counting(net, bound)
    check_stages(stages, inputs=net.n)
    width = stages[-1].post.shape[0] if stages else net.n
    layers = fuse(stages, counting_output_map(len(positions), width), inputs=net.n)
    metadata = model_metadata(net, "counting", rank, bound, net)
    metadata["readout"] = None
    return CompiledModel(layers, metadata)

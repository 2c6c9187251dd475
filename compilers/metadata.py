"""The metadata of a compiled model: where it came from and what it computes."""

from __future__ import annotations

from typing import Any

from sortnet import nodes
from sortnet.network import Network

__all__ = ["model_metadata"]


def model_metadata(
    net: Network, lowering: str, rank: int | None, bound: float | None, source: Network
) -> dict[str, Any]:
    """The metadata every compiled model carries: its source network, lowering, k, bound.

    ``net`` is the network asked for; ``source`` is the one actually lowered (``net``
    pruned to output k, or ``net`` itself), whose size is kept as ``selected_size``.

    Examples
    --------
    >>> from sortnet.network import Network
    >>> net = Network.from_comparators(2, [(0, 1)])
    >>> meta = model_metadata(net, "relu", None, None, net)
    >>> meta["lowering"], meta["k"], meta["source"]["comparators"]
    ('relu', None, [[0, 1]])
    """
    counting = net.kind == nodes.COUNTING_KIND
    return {
        "source": {
            "name": net.name,
            "kind": net.kind,
            "n": net.n,
            "size": net.size,
            "depth": net.depth,
            "comparators": None if counting else [list(c) for c in net.comparators],
            "outputs": None if counting else {str(p): w for p, w in net.outputs.items()},
            "descending": net.descending,
            "selected_size": source.size,
        },
        "n": net.n,
        "lowering": lowering,
        "k": rank,
        "bound": bound,
    }

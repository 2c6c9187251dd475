"""Lower a comparator network to unfused stages, one per layer of its schedule.

Only live wires are carried: a wire is live after a layer when a later
comparator or an output reads it. For a full sort every wire is live; for a
selection network (pruned to one output) the dead wires cost no units.
"""

from __future__ import annotations

from compilers.gadgets import LOWERINGS, Form, Lowering, Unit
from compilers.stage import Stage, build_stage
from sortnet.network import Network


def live_layers(net: Network) -> list[tuple[list[tuple[int, int, int]], set[int]]]:
    """Per schedule layer: its live comparators ``(index, i, j)`` and the wires live after it.

    Examples
    --------
    >>> net = Network.from_comparators(3, [(0, 1), (1, 2)], outputs=[2])
    >>> live_layers(net)
    [([(0, 0, 1)], {1, 2}), ([(1, 1, 2)], {2})]
    """
    index_of: dict[tuple[int, int], list[int]] = {}
    for index, comparator in enumerate(net.comparators):
        index_of.setdefault(comparator, []).append(index)
    indexed = [[(index_of[(i, j)].pop(0), i, j) for i, j in layer] for layer in net.layers()]
    live = set(net.output_wires)
    result: list[tuple[list[tuple[int, int, int]], set[int]]] = []
    for layer in reversed(indexed):
        kept = [(index, i, j) for index, i, j in layer if i in live or j in live]
        after = set(live)
        for _, i, j in kept:
            live |= {i, j}
        result.append((kept, after))
    result.reverse()
    return [(kept, after) for kept, after in result if kept]


def lower_comparators(net: Network, lowering: Lowering | str) -> list[Stage]:
    """The stages of ``net`` under ``lowering`` (a name in :data:`LOWERINGS`)."""
    rule = LOWERINGS[lowering] if isinstance(lowering, str) else lowering
    stages = []
    for comparators, live_after in live_layers(net):
        units: list[Unit] = []
        post: dict[int, Form] = {}
        touched: set[int] = set()
        gadgets = [rule.compare(index, i, j) for index, i, j in comparators]
        for _, i, j in comparators:
            touched |= {i, j}
        if rule.carry is not None:
            gadgets += [rule.carry(w) for w in sorted(live_after - touched)]
        for gadget in gadgets:
            offset = len(units)
            units.extend(gadget.units)
            for wire, form in gadget.post.items():
                if rule.residual or wire in live_after:
                    post[wire] = {offset + u: c for u, c in form.items()}
        stages.append(build_stage(units, post, inputs=net.n, outputs=net.n, residual=rule.residual))
    return stages

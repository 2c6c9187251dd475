"""The ``wires`` style: Knuth's diagram of a comparator network.

Horizontal wires, top wire first; each comparator is two dots joined by a
vertical line; parallel layers are columns separated by faint dashed rules.
Comparators of one layer whose vertical spans overlap get their own sub-column,
so no line hides another. Every coordinate is pinned (``pos="x,y!"``, neato
engine): the picture is computed here, not left to a layout heuristic, which
keeps it compact and stable up to n = 64 and beyond.
"""

from __future__ import annotations

from itertools import pairwise
from typing import TYPE_CHECKING

from sortnet.draw import _common as c

if TYPE_CHECKING:
    import graphviz

    from sortnet.network import Comparator, Network

#: neato places ~5000 comparators in about 15 s; past that a diagram is neither quick nor legible.
MAX_COMPARATORS = 5000

# Geometry in inches.
WIRE_GAP = 0.3
SUBCOLUMN_GAP = 0.2
DENSE_SUBCOLUMN_GAP = 0.13  # past 16 wires, unlabelled: sub-columns can be tighter
LAYER_GAP = 0.34
MARGIN = 0.55
WIRE_COLOUR = "#8a8a8a"
RULE_COLOUR = "#d8d8d8"


def subcolumns(layer: list[Comparator]) -> list[list[Comparator]]:
    """Split one layer into sub-columns whose comparators' spans do not overlap.

    Greedy first fit by top wire, which is optimal for intervals (an interval
    graph colours with as many colours as its largest clique).

    Examples
    --------
    >>> subcolumns([(0, 1), (2, 3)])
    [[(0, 1), (2, 3)]]
    >>> subcolumns([(0, 2), (1, 3)])
    [[(0, 2)], [(1, 3)]]
    """
    columns: list[list[Comparator]] = []
    bottoms: list[int] = []  # lowest wire used so far in each sub-column
    for i, j in sorted(layer):
        for index, bottom in enumerate(bottoms):
            if bottom < i:
                columns[index].append((i, j))
                bottoms[index] = j
                break
        else:
            columns.append([(i, j)])
            bottoms.append(j)
    return columns


def draw_wires(net: Network, k: int | None = None, numbers: bool | None = None) -> graphviz.Digraph:
    """Draw a comparator network as a Knuth wire diagram.

    Parameters
    ----------
    net : Network
        A comparator network.
    k : int, optional
        1-based output whose cone of comparators is highlighted (others greyed).
    numbers : bool, optional
        Label each comparator with its module number ``S1..Sm`` (the numbering
        of the ``graph`` style). Default: on for ``n <= 8``.

    Returns
    -------
    graphviz.Digraph
        With ``engine="neato"`` and pinned positions.

    Examples
    --------
    >>> from sortnet import Network
    >>> net = Network.from_comparators(3, [(0, 2), (0, 1), (1, 2)])
    >>> drawing = draw_wires(net)
    >>> drawing.engine
    'neato'
    >>> [f"c{index}w" in drawing.source for index in range(3)]  # a dot pair per comparator
    [True, True, True]
    """
    if net.size > MAX_COMPARATORS:
        raise c.DrawingError(
            f"the wires style draws at most {MAX_COMPARATORS} comparators; this network has "
            f"{net.size}"
        )
    target = c.check_k(k, list(net.outputs))
    cone = c.cone_comparators(net, target) if target is not None else None
    number, layer_of = c.module_numbers(net)
    if numbers is None:
        numbers = net.n <= 8
    index_of = {}
    for index, (comparator, layer) in enumerate(zip(net.comparators, layer_of, strict=True)):
        index_of[(layer, comparator)] = index
    layers = net.layers()

    digraph = c.new_digraph(
        "wires",
        engine="neato",
        splines="false",
        outputorder="edgesfirst",
        label=_title(net, len(layers), k),
        labelloc="t",
        fontsize="14",
        pad="0.2",
    )
    digraph.attr("node", shape="point", width="0.09", color=c.INK)
    digraph.attr("edge", dir="none", arrowhead="none")

    sub = SUBCOLUMN_GAP if numbers or net.n <= 16 else DENSE_SUBCOLUMN_GAP

    def y(wire: int) -> float:
        return -wire * WIRE_GAP

    top, bottom = y(0) + WIRE_GAP * (1.1 if numbers else 0.8), y(net.n - 1) - WIRE_GAP * 0.5
    x = MARGIN
    dots: list[list[tuple[float, str]]] = [[] for _ in range(net.n)]  # per wire: (x, node)
    lines: list[tuple[str, str, str]] = []
    for layer_number, comparators in enumerate(layers, start=1):
        columns = subcolumns(comparators)
        left = x
        for column in columns:
            for i, j in column:
                index = index_of[(layer_number - 1, (i, j))]
                colour = c.INK if cone is None else (c.HIGHLIGHT if index in cone else c.MUTED)
                ends = []
                for wire in (i, j):
                    name = f"c{index}w{wire}"
                    digraph.node(name, pos=_pos(x, y(wire)), color=colour)
                    dots[wire].append((x, name))
                    ends.append(name)
                # Drawn after the wires, so each comparator line sits on top of them.
                lines.append((ends[0], ends[1], colour))
                if numbers:
                    digraph.node(
                        f"S{number[index]}",
                        f"S{number[index]}",
                        shape="plaintext",
                        fontsize="7",
                        fontcolor=colour,
                        width="0",
                        height="0",
                        margin="0",
                        pos=_pos(x, y(i) + 0.13),
                    )
            x += sub
        centre = (left + x - sub) / 2
        digraph.node(
            f"L{layer_number}",
            str(layer_number),
            shape="plaintext",
            fontsize="8",
            fontcolor="#999999",
            width="0",
            height="0",
            margin="0",
            pos=_pos(centre, top),
        )
        x += LAYER_GAP - sub
        if layer_number < len(layers):
            rule = x - LAYER_GAP / 2
            for end, height in (("t", top - 0.1), ("b", bottom)):
                digraph.node(
                    f"rule{layer_number}{end}", pos=_pos(rule, height), style="invis", width="0"
                )
            digraph.edge(
                f"rule{layer_number}t", f"rule{layer_number}b", color=RULE_COLOUR, style="dashed"
            )
    right = x - LAYER_GAP + sub + MARGIN * 0.6
    _add_wires(digraph, net, dots, y, right, target)
    for upper, lower, colour in lines:
        digraph.edge(upper, lower, color=colour, penwidth="1.6")
    return digraph


def _add_wires(digraph, net, dots, y, right, target) -> None:  # type: ignore[no-untyped-def]
    """Wire labels at both ends and the wire segments between consecutive dots."""
    position_of = {wire: position for position, wire in net.outputs.items()}
    for wire in range(net.n):
        start, end = f"in{wire}", f"out{wire}"
        digraph.node(
            start,
            c.html_sub("x", wire + 1),
            shape="plaintext",
            fontsize="11",
            width="0.3",
            height="0.2",
            margin="0",
            pos=_pos(0.15, y(wire)),
        )
        position = position_of.get(wire)
        if position is None:
            # A pruned network: the wire is not read; end it with a point.
            digraph.node(end, pos=_pos(right - 0.15, y(wire)), width="0.04", color=WIRE_COLOUR)
        else:
            lit = target is not None and position == target
            digraph.node(
                end,
                c.html_order_statistic(position + 1),
                shape="plaintext",
                fontsize="11",
                width="0.3",
                height="0.2",
                margin="0",
                pos=_pos(right, y(wire)),
                fontcolor=c.HIGHLIGHT if lit else c.INK,
            )
        chain = [start, *(name for _, name in sorted(dots[wire])), end]
        for left, right_name in pairwise(chain):
            digraph.edge(left, right_name, color=WIRE_COLOUR, penwidth="1")


def _pos(x: float, y: float) -> str:
    return f"{x:.3f},{y:.3f}!"


def _title(net: Network, depth: int, k: int | None) -> str:
    name = net.name or net.graph.graph.get("family") or "network"
    text = f"{name}, n = {net.n}: {c.plural(net.size, 'comparator')}, depth {depth}"
    if k is not None:
        text += f"; cone of output k = {k}"
    return text

"""The ``graph`` style: the computation graph of the course figure.

Inputs ``x1..xn`` on the left, the Sort_2 modules ``S1..Sm`` in columns, one column
per parallel layer, and the sorted outputs ``x^(1)..x^(n)`` on the right. Each
module is a small table with two input ports (its top and bottom wire) and two
output ports (``min`` and ``max``), so every edge shows which wire it carries and
which port it leaves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sortnet import nodes
from sortnet.draw import _common as c
from sortnet.draw._columns import add_ranks

#: Graphviz lays out ~1000 modules in about 15 s and 2000 in minutes.
MAX_MODULES = 1000

if TYPE_CHECKING:
    import graphviz

    from sortnet.network import Network


def draw_graph(net: Network, k: int | None = None) -> graphviz.Digraph:
    """Draw a comparator network as inputs -> indexed Sort_2 modules -> outputs.

    Parameters
    ----------
    net : Network
        A comparator network.
    k : int, optional
        1-based output whose cone (the comparators it depends on) is highlighted.

    Returns
    -------
    graphviz.Digraph

    Examples
    --------
    >>> from sortnet import Network
    >>> net = Network.from_comparators(4, [(0, 1), (2, 3), (0, 2), (1, 3), (1, 2)])
    >>> dot = draw_graph(net).source
    >>> [f"S{i}" in dot for i in range(1, 6)], "S6" in dot
    ([True, True, True, True, True], False)
    """
    if net.size > MAX_MODULES:
        raise c.DrawingError(
            f"the graph style draws at most {MAX_MODULES} modules (Graphviz takes minutes "
            f"beyond that); this network has {net.size}: use style 'wires'"
        )
    target = c.check_k(k, list(net.outputs))
    number, layer = c.module_numbers(net)
    cone = c.cone_comparators(net, target) if target is not None else None
    depth = max(layer, default=-1) + 1
    digraph = c.new_digraph(
        "graph",
        rankdir="LR",
        ranksep="0.45",
        nodesep="0.18",
        label=_title(net, depth, k),
        labelloc="t",
        fontsize="14",
    )

    def node_id(node: tuple) -> str:
        tag, index = node
        if tag == "c":
            return f"S{number[index]}"
        return f"{tag}{index + 1}"

    # Inputs, one rank, top wire first (invisible flat edges fix the order).
    ranks: list[list[str]] = [[]]
    for wire in range(net.n):
        name = f"x{wire + 1}"
        digraph.node(
            name,
            c.html_sub("x", wire + 1),
            shape="circle",
            style="filled",
            fillcolor=c.INPUT_FILL,
            width="0.45",
            fixedsize="true",
        )
        ranks[0].append(name)
    # Modules, one rank per layer, in module-number order (= top wire first).
    columns: list[list[int]] = [[] for _ in range(depth)]
    for index in sorted(range(len(number)), key=number.__getitem__):
        columns[layer[index]].append(index)
    for column in columns:
        ranks.append([])
        for index in column:
            state = "plain" if cone is None else ("lit" if index in cone else "muted")
            i, j = net.comparators[index]
            digraph.node(
                f"S{number[index]}", _module_label(number[index], i, j, state), shape="plain"
            )
            ranks[-1].append(f"S{number[index]}")
    ranks.append([])
    for position in net.outputs:
        name = f"y{position + 1}"
        lit = target is None or position == target
        digraph.node(
            name,
            c.html_order_statistic(position + 1),
            shape="circle",
            style="filled",
            fillcolor=c.OUTPUT_FILL if lit else "white",
            width="0.5",
            fixedsize="true",
            color=c.HIGHLIGHT if target is not None and lit else c.INK,
            penwidth="2" if target is not None and lit else "1",
        )
        ranks[-1].append(name)
    captions = ["inputs", *(f"layer {number}" for number in range(1, depth + 1)), "outputs"]
    add_ranks(digraph, captions, ranks)
    _add_edges(digraph, net, node_id, cone, target)
    return digraph


def _add_edges(digraph, net, node_id, cone, target) -> None:  # type: ignore[no-untyped-def]
    graph = net.graph
    for source, head, data in sorted(graph.edges(data=True), key=_edge_order):
        wire = data["wire"]
        tail = node_id(source)
        if "port" in data:
            tail = f"{tail}:{data['port']}:e"
        head_op = graph.nodes[head]["op"]
        head_name = node_id(head)
        if head_op == nodes.COMPARE_EXCHANGE:
            side = "a" if graph.nodes[head]["wires"][0] == wire else "b"
            head_name = f"{head_name}:{side}:w"
        if cone is None:
            lit = True
        elif head_op == nodes.OUTPUT:
            lit = graph.nodes[head]["position"] == target
        else:
            lit = graph.nodes[head]["index"] in cone
        colour = c.INK if cone is None else (c.HIGHLIGHT if lit else c.MUTED)
        digraph.edge(
            tail,
            head_name,
            label=f"w{wire + 1}",
            color=colour,
            fontcolor=colour,
            penwidth="1.6" if cone is not None and lit else "1",
            arrowsize="0.6",
        )


def _edge_order(edge: tuple) -> tuple:
    # Sort edges by (kind, number) of their ends so the DOT text is deterministic.
    source, head, data = edge
    return (source, head, data["wire"])


def _module_label(number: int, i: int, j: int, state: str) -> str:
    """An HTML table: input ports a (wire i), b (wire j) | S<number> | min, max.

    ``state`` is ``"plain"`` (no highlighting), ``"lit"`` (in the cone of output
    k) or ``"muted"`` (outside it).
    """
    colour = {"plain": c.INK, "lit": c.HIGHLIGHT, "muted": c.MUTED}[state]
    fill = "#f4f4f4" if state == "muted" else c.MODULE_FILL
    border = f'COLOR="{colour}"'
    name = f"S{number}"
    return (
        f'<<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="0" CELLPADDING="2" {border} '
        f'BGCOLOR="{fill}">'
        f'<TR><TD PORT="a"><FONT POINT-SIZE="8">{i + 1}</FONT></TD>'
        f'<TD ROWSPAN="2"><B>{name}</B></TD>'
        f'<TD PORT="min"><FONT POINT-SIZE="8">min</FONT></TD></TR>'
        f'<TR><TD PORT="b"><FONT POINT-SIZE="8">{j + 1}</FONT></TD>'
        f'<TD PORT="max"><FONT POINT-SIZE="8">max</FONT></TD></TR></TABLE>>'
    )


def _title(net: Network, depth: int, k: int | None) -> str:
    name = net.name or net.graph.graph.get("family") or "network"
    text = (
        f"{name}, n = {net.n}: {c.plural(net.size, 'Sort_2 module')} in {c.plural(depth, 'layer')}"
    )
    if k is not None:
        text += f"; cone of output k = {k} highlighted"
    return text

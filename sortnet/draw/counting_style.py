"""The ``graph`` style of a rank-counting network.

Columns follow the construction: inputs; hard-threshold units ``[x_j < x_i]``
(``compare_bit``, ties broken by index so ranks are a permutation); rank units
``r_i`` that add them up; indicator units ``1[r_i = r]`` that mark the element of
rank ``r``; select units that output that element; outputs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import networkx as nx

from sortnet import nodes
from sortnet.draw import _common as c
from sortnet.draw._columns import MAX_UNITS, Column, Edge, Unit, render_columns

if TYPE_CHECKING:
    import graphviz

    from sortnet.network import Network

# (op, caption, noun in a summary) per column, left to right.
_COLUMNS = (
    (nodes.INPUT, "inputs", "inputs"),
    (nodes.COMPARE_BIT, "threshold 1[z ≥ 0]", "threshold units"),
    (nodes.SUM, "rank (sum)", "rank units"),
    (nodes.INDICATOR, "indicator 1[|z| ≤ 1]", "indicator units"),
    (nodes.SELECT, "select", "select units"),
    (nodes.OUTPUT, "outputs", "outputs"),
)


def draw_counting(
    net: Network, k: int | None = None, max_units: int = MAX_UNITS
) -> graphviz.Digraph:
    """Draw a counting network: threshold, rank, indicator and select units.

    Parameters
    ----------
    net : Network
        A network of kind ``"counting"`` (:func:`sortnet.counting_network`).
    k : int, optional
        1-based output whose cone of units is highlighted.
    max_units : int
        Columns with more units are drawn as one summary node.

    Returns
    -------
    graphviz.Digraph

    Examples
    --------
    >>> from sortnet.generators.counting import counting_network
    >>> source = draw_counting(counting_network(3, k=2)).source
    >>> "threshold" in source and "indicator" in source and "select" in source
    True
    """
    graph = net.graph
    outputs = sorted(data["position"] for _, data in _nodes_of(graph, nodes.OUTPUT))
    target = c.check_k(k, outputs)
    cone: set[Any] | None = None
    if target is not None:
        output = next(node for node, d in _nodes_of(graph, nodes.OUTPUT) if d["position"] == target)
        cone = nx.ancestors(graph, output) | {output}
    digraph = c.new_digraph(
        "counting",
        rankdir="LR",
        ranksep="0.6",
        nodesep="0.12",
        labelloc="t",
        fontsize="14",
        label=_title(net, graph, k),
    )
    names = {node: _name(data) for node, data in graph.nodes(data=True)}
    labels = {node: _label(data) for node, data in graph.nodes(data=True)}
    for node, _ in _nodes_of(graph, nodes.OUTPUT):
        # Label an output by the rank it carries, whatever column it sits in.
        ((source, _),) = graph.in_edges(node)
        if graph.nodes[source]["op"] == nodes.SELECT:
            labels[node] = c.html_order_statistic(graph.nodes[source]["rank"] + 1)
    columns = []
    for op, caption, noun in _COLUMNS:
        members = sorted(_nodes_of(graph, op), key=lambda item: _order(item[1]))
        units = [
            Unit(names[node], labels[node], _style(op), None if cone is None else node in cone)
            for node, data in members
        ]
        if units:
            columns.append(Column(caption, units, noun))
    edges = []
    for tail, head, data in sorted(
        graph.edges(data=True), key=lambda e: (names[e[0]], names[e[1]])
    ):
        lit = None if cone is None else (tail in cone and head in cone)
        role = data.get("role")
        # Gates are dashed; the long value edges into select are light, so the
        # counting structure in the middle stays readable.
        attrs = {"style": "dashed"} if role == "gate" else {}
        if role == "value" and lit is None:
            attrs = {"color": "#9e9e9e"}
        label = ""
        edges.append(Edge(names[tail], names[head], label, lit, attrs))
    render_columns(digraph, columns, edges, max_units)
    return digraph


def _nodes_of(graph: nx.MultiDiGraph, op: str) -> list[tuple[Any, dict]]:
    return [(node, data) for node, data in graph.nodes(data=True) if data["op"] == op]


def _order(data: dict) -> tuple:
    op = data["op"]
    if op == nodes.INPUT:
        return (data["wire"],)
    if op == nodes.COMPARE_BIT:
        return tuple(data["pair"])
    if op == nodes.SUM:
        return (data["element"],)
    if op == nodes.INDICATOR:
        return (data["rank"], data["element"])
    if op == nodes.SELECT:
        return (data["rank"],)
    return (data["position"],)


def _name(data: dict) -> str:
    """A readable, stable Graphviz id from the node's attributes (not its IR id)."""
    op = data["op"]
    if op == nodes.INPUT:
        return f"x{data['wire'] + 1}"
    if op == nodes.COMPARE_BIT:
        i, j = data["pair"]
        return f"b{i + 1}_{j + 1}"
    if op == nodes.SUM:
        return f"r{data['element'] + 1}"
    if op == nodes.INDICATOR:
        return f"g{data['element'] + 1}_{data['rank'] + 1}"
    if op == nodes.SELECT:
        return f"s{data['rank'] + 1}"
    return f"y{data['position'] + 1}"


def _label(data: dict) -> str:
    op = data["op"]
    if op == nodes.INPUT:
        return c.html_sub("x", data["wire"] + 1)
    if op == nodes.COMPARE_BIT:
        i, j = data["pair"]
        # Plain text: Graphviz underestimates the width of HTML subscripts here.
        return f"[x{j + 1} < x{i + 1}]"
    if op == nodes.SUM:
        return f"r{data['element'] + 1} = Σ"
    if op == nodes.INDICATOR:
        return f"1[r{data['element'] + 1} = {data['rank']}]"
    if op == nodes.SELECT:
        return "Σ gi·xi"
    return c.html_order_statistic(data["position"] + 1)


def _style(op: str) -> dict[str, str]:
    if op == nodes.INPUT:
        return {"shape": "circle", "style": "filled", "fillcolor": c.INPUT_FILL}
    if op == nodes.OUTPUT:
        return {"shape": "circle", "style": "filled", "fillcolor": c.OUTPUT_FILL}
    fill = {
        nodes.COMPARE_BIT: "#fdecea",
        nodes.SUM: c.MODULE_FILL,
        nodes.INDICATOR: "#ede7f6",
        nodes.SELECT: c.OUTPUT_FILL,
    }[op]
    return {
        "shape": "box",
        "style": "rounded,filled",
        "fillcolor": fill,
        "fontsize": "10",
        "margin": "0.05,0.02",
        "height": "0.3",
    }


def _title(net: Network, graph: nx.MultiDiGraph, k: int | None) -> str:
    text = f"counting network, n = {net.n}: {net.size} threshold units"
    target = graph.graph.get("k")
    if target is not None:
        text += f", outputs the k-th smallest, k = {target}"
    if k is not None:
        text += f"; cone of output {k} highlighted"
    return text

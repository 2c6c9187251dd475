"""The IR validator: checks a graph against the schema in :mod:`sortnet.nodes`.

One function, :func:`graph_violations`, lists every violation with its reason;
:func:`validate_graph` raises :class:`~sortnet.errors.InvalidNetworkError` with
all of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

import networkx as nx

from sortnet import nodes
from sortnet.errors import InvalidNetworkError

#: Limits that keep a network's graph in memory (about 3.5 KB and 40 us per comparator):
#: a mistyped ``n`` is refused at once instead of exhausting the machine.
MAX_WIRES = 1 << 16
MAX_COMPARATORS = 1 << 20


def comparator_violations(n: object, comparators: Iterable[object]) -> list[str]:
    """Reasons why ``comparators`` is not a comparator list on ``n`` wires.

    Examples
    --------
    >>> comparator_violations(3, [(0, 1), (1, 1), (0, 5)])
    ['comparator 1 (1, 1): i == j', 'comparator 2 (0, 5): wire 5 out of range [0, 3)']
    """
    if isinstance(n, bool) or not isinstance(n, int):
        return [f"n must be an integer, got {n!r}"]
    if n < 1:
        return [f"n must be >= 1, got {n}"]
    if n > MAX_WIRES:
        return [f"n={n} is more than sortnet's limit of {MAX_WIRES} wires"]
    comparators = list(comparators)
    if len(comparators) > MAX_COMPARATORS:
        return [f"{len(comparators)} comparators is more than sortnet's limit of {MAX_COMPARATORS}"]
    problems = []
    for index, comparator in enumerate(comparators):
        if not _is_pair_of_ints(comparator):
            problems.append(f"comparator {index} {comparator!r}: not a pair of integers")
            continue
        i, j = cast("tuple[int, int]", comparator)
        if i == j:
            problems.append(f"comparator {index} ({i}, {j}): i == j")
        for wire in (i, j):
            if not 0 <= wire < n:
                problems.append(f"comparator {index} ({i}, {j}): wire {wire} out of range [0, {n})")
    return problems


def _is_pair_of_ints(value: object) -> bool:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        return False
    return all(isinstance(v, int) and not isinstance(v, bool) for v in value)


def graph_violations(graph: nx.DiGraph) -> list[str]:
    """Every way ``graph`` breaks the IR schema, one reason per entry."""
    problems: list[str] = []
    for attribute in nodes.GRAPH_ATTRIBUTES:
        if attribute not in graph.graph:
            problems.append(f"graph attribute {attribute!r} missing")
    if problems:
        return problems
    n, kind = graph.graph["n"], graph.graph["kind"]
    allowed = {
        nodes.COMPARATOR_KIND: nodes.COMPARATOR_OPS,
        nodes.COUNTING_KIND: nodes.COUNTING_OPS,
    }.get(kind)
    if allowed is None:
        return [f"unknown network kind {kind!r}"]
    if not nx.is_directed_acyclic_graph(graph):
        problems.append("graph has a cycle")
    input_wires = []
    for node, data in graph.nodes(data=True):
        op = data.get("op")
        if op not in allowed:
            problems.append(f"node {node!r}: op {op!r} not allowed in a {kind} network")
            continue
        missing = [a for a in nodes.NODE_ATTRIBUTES[op] if a not in data]
        if missing:
            problems.append(f"node {node!r}: missing attribute(s) {', '.join(missing)}")
            continue
        problems.extend(_node_violations(graph, node, data, n))
        if op == nodes.INPUT:
            input_wires.append(data["wire"])
    if sorted(input_wires) != list(range(n)):
        problems.append(f"input nodes must cover wires 0..{n - 1} once each")
    return problems


def _node_violations(graph: nx.DiGraph, node: object, data: dict, n: int) -> list[str]:
    op = data["op"]
    in_degree = graph.in_degree(node)
    problems = []
    if op == nodes.INPUT:
        if not 0 <= data["wire"] < n:
            problems.append(f"node {node!r}: wire {data['wire']} out of range [0, {n})")
        if in_degree:
            problems.append(f"node {node!r}: input nodes take no in-edges")
    elif op == nodes.COMPARE_EXCHANGE:
        i, j = data["wires"]
        if not (0 <= i < j < n):
            problems.append(f"node {node!r}: wires ({i}, {j}) need 0 <= i < j < {n}")
        if in_degree != 2:
            problems.append(f"node {node!r}: compare_exchange needs 2 in-edges, has {in_degree}")
    elif op == nodes.COMPARE_BIT:
        i, j = data["pair"]
        if i == j or not (0 <= i < n and 0 <= j < n):
            problems.append(f"node {node!r}: pair ({i}, {j}) needs distinct wires in [0, {n})")
        if in_degree != 2:
            problems.append(f"node {node!r}: compare_bit needs 2 in-edges, has {in_degree}")
    elif op in (nodes.INDICATOR, nodes.OUTPUT) and in_degree != 1:
        problems.append(f"node {node!r}: {op} needs 1 in-edge, has {in_degree}")
    elif op in (nodes.SUM, nodes.SELECT) and in_degree < 1:
        problems.append(f"node {node!r}: {op} needs in-edges")
    if op == nodes.OUTPUT and not 0 <= data["position"] < n:
        problems.append(f"node {node!r}: position {data['position']} out of range [0, {n})")
    return problems


def validate_graph(graph: nx.DiGraph) -> None:
    """Raise :class:`InvalidNetworkError` listing every violation, if any."""
    problems = graph_violations(graph)
    if problems:
        raise InvalidNetworkError(problems)

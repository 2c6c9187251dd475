"""The core IR: Network construction, schema validation, schedule, immutability."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest

from sortnet import nodes
from sortnet.errors import InvalidNetworkError
from sortnet.network import Network
from sortnet.validate import graph_violations

BATCHER_4 = [(0, 1), (2, 3), (0, 2), (1, 3), (1, 2)]


def run_wires(net: Network, row: tuple[int, ...]) -> list[int]:
    """Apply the comparators to one row and read the outputs in position order."""
    values = list(row)
    for i, j in net.comparators:
        values[i], values[j] = min(values[i], values[j]), max(values[i], values[j])
    return [values[w] for w in net.output_wires]


def test_basic_properties():
    net = Network.from_comparators(4, BATCHER_4, name="merge-4")
    assert (net.n, net.size, net.depth) == (4, 5, 3)
    assert net.comparators == BATCHER_4
    assert net.layers() == [[(0, 1), (2, 3)], [(0, 2), (1, 3)], [(1, 2)]]
    assert net.outputs == {0: 0, 1: 1, 2: 2, 3: 3}
    assert "merge-4" in repr(net) and "size=5" in repr(net)


def test_graph_follows_schema():
    net = Network.from_comparators(4, BATCHER_4)
    graph = net.graph
    ops = [data["op"] for _, data in graph.nodes(data=True)]
    assert ops.count(nodes.INPUT) == 4
    assert ops.count(nodes.COMPARE_EXCHANGE) == 5
    assert ops.count(nodes.OUTPUT) == 4
    assert graph_violations(graph) == []
    # The last comparator (1, 2) sends its minimum to output 1 and maximum to output 2.
    last = nodes.comparator_node(4)
    ports = {graph.edges[last, nodes.output_node(p), w]["port"] for p, w in ((1, 1), (2, 2))}
    assert ports == {"min", "max"}


def test_repeated_comparator_keeps_both_edges():
    net = Network.from_comparators(2, [(0, 1), (0, 1)])
    assert net.graph.in_degree(nodes.comparator_node(1)) == 2
    assert net.depth == 2


def test_network_is_immutable():
    net = Network.from_comparators(2, [(0, 1)])
    with pytest.raises(nx.NetworkXError, match="Frozen"):
        net.graph.add_node("extra")


def test_descending_comparators_become_standard_and_keep_meaning():
    # Classic bitonic sorter of 4 with one descending half: (3, 2) puts the minimum on wire 3.
    classic = [(0, 1), (3, 2), (0, 2), (1, 3), (0, 1), (2, 3)]
    net = Network.from_comparators(4, classic)
    assert all(i < j for i, j in net.comparators)
    for row in itertools.product(range(3), repeat=4):
        assert run_wires(net, row) == sorted(row)


def test_descending_flag_reverses_output_order():
    net = Network.from_comparators(4, BATCHER_4, descending=True)
    for row in itertools.permutations(range(4)):
        assert run_wires(net, row) == sorted(row, reverse=True)


def test_outputs_subset_for_selection():
    net = Network.from_comparators(4, BATCHER_4, outputs=[2], k=3)
    assert net.outputs == {2: 2}
    assert net.graph.graph["k"] == 3
    assert "outputs=[2]" in repr(net)


@pytest.mark.parametrize(
    ("n", "comparators", "message"),
    [
        (3, [(0, 3)], r"comparator 0 \(0, 3\): wire 3 out of range \[0, 3\)"),
        (3, [(1, 1)], r"comparator 0 \(1, 1\): i == j"),
        (3, [(0, 1, 2)], r"comparator 0 \(0, 1, 2\): not a pair of integers"),
        (3, [(0.0, 1)], r"not a pair of integers"),
        (0, [], r"n must be >= 1, got 0"),
        ("4", [], r"n must be an integer, got '4'"),
    ],
)
def test_bad_comparators_are_named(n, comparators, message):
    with pytest.raises(InvalidNetworkError, match=message):
        Network.from_comparators(n, comparators)


def test_validator_lists_every_violation():
    with pytest.raises(InvalidNetworkError) as info:
        Network.from_comparators(3, [(0, 5), (2, 2), (1, -1)])
    assert len(info.value.violations) == 3


def test_bad_output_position():
    with pytest.raises(InvalidNetworkError, match=r"output position 4 out of range \[0, 4\)"):
        Network.from_comparators(4, BATCHER_4, outputs=[4])


def test_graph_validator_reports_schema_breaks():
    graph = nx.MultiDiGraph(n=2, kind="comparator")
    graph.add_node(("x", 0), op="input", wire=0)
    graph.add_node(("c", 0), op="compare_exchange", wires=(1, 0), index=0)
    graph.add_node(("b", 0), op="compare_bit", pair=(0, 1))
    graph.add_edge(("x", 0), ("c", 0))
    problems = graph_violations(graph)
    assert any("op 'compare_bit' not allowed in a comparator network" in p for p in problems)
    assert any("wires (1, 0) need 0 <= i < j < 2" in p for p in problems)
    assert any("compare_exchange needs 2 in-edges, has 1" in p for p in problems)
    assert any("input nodes must cover wires 0..1 once each" in p for p in problems)
    assert graph_violations(nx.MultiDiGraph()) == [
        "graph attribute 'n' missing",
        "graph attribute 'kind' missing",
    ]


def test_equality_and_hash():
    a = Network.from_comparators(4, BATCHER_4)
    b = Network.from_comparators(4, [list(c) for c in BATCHER_4])
    assert a == b and hash(a) == hash(b)
    assert a != Network.from_comparators(4, BATCHER_4[:-1])


def test_empty_network_on_one_wire():
    net = Network.from_comparators(1, [])
    assert (net.n, net.size, net.depth, net.layers()) == (1, 0, 0, [])
    assert np.array_equal(run_wires(net, (7,)), [7])

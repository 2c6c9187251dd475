"""The :class:`Network` type: an immutable graph IR of a comparator or counting network."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cached_property
from typing import Any

import networkx as nx

from sortnet import nodes
from sortnet.errors import InvalidNetworkError
from sortnet.schedule import asap_layer_indices, asap_layers
from sortnet.validate import comparator_violations, validate_graph

Comparator = tuple[int, int]


class Network:
    """An immutable network on ``n`` wires, stored as a networkx graph.

    Build one with :func:`sortnet.network`, :func:`sortnet.load_network`,
    :meth:`Network.from_comparators` or :func:`sortnet.counting_network`; the
    constructor takes a graph that follows the schema in :mod:`sortnet.nodes`,
    validates it and freezes it.

    Parameters
    ----------
    graph : networkx.MultiDiGraph
        A graph following the schema of :mod:`sortnet.nodes` (a multigraph: one
        comparator may feed the next on both of its wires).

    Examples
    --------
    >>> net = Network.from_comparators(4, [(0, 1), (2, 3), (0, 2), (1, 3), (1, 2)])
    >>> net.n, net.size, net.depth
    (4, 5, 3)
    >>> net.layers()
    [[(0, 1), (2, 3)], [(0, 2), (1, 3)], [(1, 2)]]
    """

    def __init__(self, graph: nx.MultiDiGraph) -> None:
        validate_graph(graph)
        self._graph = nx.freeze(graph.copy())

    @classmethod
    def _adopt(cls, graph: nx.MultiDiGraph) -> Network:
        """Validate and freeze a graph nobody else holds, without the defensive copy."""
        validate_graph(graph)
        net = cls.__new__(cls)
        net._graph = nx.freeze(graph)
        return net

    # -- construction -----------------------------------------------------------
    @classmethod
    def from_comparators(
        cls,
        n: int,
        comparators: Iterable[Sequence[int]],
        *,
        name: str | None = None,
        descending: bool = False,
        outputs: Sequence[int] | None = None,
        **metadata: Any,
    ) -> Network:
        """Build a comparator network from ``(a, b)`` pairs, the minimum going to ``a``.

        A pair with ``a > b`` is a descending comparator (the classic bitonic
        form). The network is converted to standard form (every comparator
        ``(i, j)`` with ``i < j``) by Knuth's exchange: the comparator is
        flipped and wires ``a`` and ``b`` are relabelled in everything after it
        (TAOCP vol. 3, 5.3.4, exercise 16). Outputs keep their meaning: the
        output at position ``p`` reads the wire that now carries it.

        Parameters
        ----------
        n : int
            Number of wires, ``n >= 1``.
        comparators : iterable of (int, int)
            Pairs ``(a, b)``: after the comparator, wire ``a`` holds the minimum.
        name : str, optional
            A label kept in ``graph.graph["name"]``.
        descending : bool
            If true, output position ``p`` reads the wire of position ``n-1-p``,
            so a sorting network sorts in descending order.
        outputs : sequence of int, optional
            Output positions to keep (all ``n`` by default); a selection network
            keeps one.
        **metadata
            Extra graph attributes (``family``, ``k``, ...).

        Examples
        --------
        >>> Network.from_comparators(2, [(1, 0)]).comparators
        [(0, 1)]
        >>> Network.from_comparators(3, [(0, 3)])
        Traceback (most recent call last):
        ...
        sortnet.errors.InvalidNetworkError: invalid network: comparator 0 (0, 3): wire 3 out of ...
        """
        comparators = [tuple(c) if isinstance(c, (list, tuple)) else c for c in comparators]
        problems = comparator_violations(n, comparators)
        if problems:
            raise InvalidNetworkError(problems)
        standard, wire_of = _to_standard_form(n, comparators)  # type: ignore[arg-type]
        positions = list(range(n)) if outputs is None else list(outputs)
        bad = [p for p in positions if not (isinstance(p, int) and 0 <= p < n)]
        if bad:
            raise InvalidNetworkError([f"output position {p!r} out of range [0, {n})" for p in bad])
        if descending:
            wire_of = wire_of[::-1]
        graph = comparator_graph(n, standard, {p: wire_of[p] for p in positions})
        graph.graph.update(metadata, name=name, descending=descending)
        return cls._adopt(graph)  # the graph was built here: no one else can mutate it

    # -- properties -------------------------------------------------------------
    @property
    def graph(self) -> nx.MultiDiGraph:
        """The frozen networkx graph underneath (nodes are ops, edges carry values)."""
        return self._graph

    @property
    def n(self) -> int:
        """Number of wires (input width)."""
        return int(self._graph.graph["n"])

    @property
    def kind(self) -> str:
        """``"comparator"`` or ``"counting"``."""
        return str(self._graph.graph["kind"])

    @property
    def name(self) -> str | None:
        """The label given at construction, if any."""
        return self._graph.graph.get("name")

    @property
    def descending(self) -> bool:
        """True when outputs come in descending order."""
        return bool(self._graph.graph.get("descending", False))

    @cached_property
    def comparators(self) -> list[Comparator]:
        """Comparators ``(i, j)`` in order, ``i < j``; the minimum goes to wire ``i``."""
        ops = [
            data for _, data in self._graph.nodes(data=True) if data["op"] == nodes.COMPARE_EXCHANGE
        ]
        ops.sort(key=lambda data: data["index"])
        return [tuple(data["wires"]) for data in ops]  # type: ignore[misc]

    @property
    def size(self) -> int:
        """Number of comparators (``compare_bit`` units for a counting network)."""
        if self.kind == nodes.COUNTING_KIND:
            return sum(1 for _, op in self._graph.nodes(data="op") if op == nodes.COMPARE_BIT)
        return len(self.comparators)

    @cached_property
    def depth(self) -> int:
        """Number of parallel layers (longest chain of operations)."""
        if self.kind == nodes.COMPARATOR_KIND:
            return max(asap_layer_indices(self.n, self.comparators), default=-1) + 1
        # Inputs and outputs are not operations: subtract their two edges.
        return max(nx.dag_longest_path_length(self._graph) - 1, 0)

    @cached_property
    def outputs(self) -> dict[int, int]:
        """Map from each output position to the wire it reads, in position order."""
        mapping = {}
        for node, data in self._graph.nodes(data=True):
            if data["op"] == nodes.OUTPUT:
                ((_, _, wire),) = self._graph.in_edges(node, data="wire")
                mapping[data["position"]] = wire
        return dict(sorted(mapping.items()))

    @property
    def output_wires(self) -> list[int]:
        """Wires read by the outputs, in position order."""
        return list(self.outputs.values())

    def layers(self) -> list[list[Comparator]]:
        """The comparators grouped into parallel layers, as soon as possible."""
        return asap_layers(self.n, self.comparators)

    # -- dunder -----------------------------------------------------------------
    def _key(self) -> tuple:
        return (self.kind, self.n, tuple(self.comparators), tuple(self.outputs.items()))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Network):
            return NotImplemented
        if self.kind == nodes.COUNTING_KIND or other.kind == nodes.COUNTING_KIND:
            return self is other or nx.utils.graphs_equal(self._graph, other._graph)
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        label = f" {self.name!r}" if self.name else ""
        extra = "" if len(self.outputs) == self.n else f", outputs={list(self.outputs)}"
        return (
            f"<Network{label} kind={self.kind} n={self.n} size={self.size} "
            f"depth={self.depth}{extra}>"
        )


def _to_standard_form(n: int, comparators: list[Comparator]) -> tuple[list[Comparator], list[int]]:
    """Flip descending comparators by relabelling later wires (Knuth's exchange).

    Returns the standard comparators and, for each original wire, the wire that
    carries its value at the end.
    """
    wire_of = list(range(n))  # original label -> current physical wire
    standard = []
    for a, b in comparators:
        i, j = wire_of[a], wire_of[b]
        if i > j:
            # The minimum must land on original label a; put it on the lower wire
            # and let label a live there from now on.
            wire_of[a], wire_of[b] = j, i
            i, j = j, i
        standard.append((i, j))
    return standard, wire_of


def comparator_graph(
    n: int, comparators: list[Comparator], outputs: dict[int, int]
) -> nx.MultiDiGraph:
    """The IR graph of a comparator network (shared by constructors, readers and select)."""
    graph = nx.MultiDiGraph(n=n, kind=nodes.COMPARATOR_KIND)
    producer: list[tuple[Any, str | None]] = []
    for wire in range(n):
        graph.add_node(nodes.input_node(wire), op=nodes.INPUT, wire=wire)
        producer.append((nodes.input_node(wire), None))
    for index, (i, j) in enumerate(comparators):
        node = nodes.comparator_node(index)
        graph.add_node(node, op=nodes.COMPARE_EXCHANGE, wires=(i, j), index=index)
        for wire, port in ((i, "min"), (j, "max")):
            source, source_port = producer[wire]
            graph.add_edge(source, node, key=wire, wire=wire, **_port(source_port))
            producer[wire] = (node, port)
    for position, wire in outputs.items():
        source, source_port = producer[wire]
        node = nodes.output_node(position)
        graph.add_node(node, op=nodes.OUTPUT, position=position)
        graph.add_edge(source, node, key=wire, wire=wire, **_port(source_port))
    return graph


def _port(port: str | None) -> dict[str, str]:
    return {} if port is None else {"port": port}

"""The IR schema: every node kind of a sortnet graph and the attributes it carries.

A sortnet network is a directed acyclic graph whose nodes are operations and whose
edges carry values: a :class:`networkx.MultiDiGraph`, since one comparator can feed
the next on both of its wires (edges are keyed by wire). This module is the single
written-down schema; :func:`sortnet.validate.validate_graph` checks a graph against it and
everything else (builders, passes, compilers, renderers) reads these names.

Node kinds (the ``op`` attribute) and their attributes:

``input``
    ``wire``: int, the input column ``0 <= wire < n``. No in-edges.
``compare_exchange``
    ``wires``: ``(i, j)`` with ``i < j``; the minimum goes to wire ``i`` and the
    maximum to wire ``j``. ``index``: int, position in the comparator sequence.
    Exactly two in-edges, one per wire.
``compare_bit``
    ``pair``: ``(i, j)`` with ``i != j``. Value ``1`` when element ``j`` comes before
    element ``i`` in the stable order (``x_j < x_i``, or ``x_j == x_i`` and
    ``j < i``), else ``0``. Two in-edges, from the values of elements ``i`` and ``j``.
``sum``
    ``element``: int. Value: the sum of its in-edges (the rank of ``element``, 0-based).
``indicator``
    ``element``: int, ``rank``: int (0-based target rank). Value ``1`` when its
    in-edge equals ``rank``, else ``0``. One in-edge, from a ``sum`` node.
``select``
    ``rank``: int (0-based). Value: ``sum_i x_i * indicator_i``; in-edges from the
    inputs and from the ``indicator`` nodes with this ``rank``.
``output``
    ``position``: int, the output column. One in-edge.

Edge attributes: ``wire`` (int) on edges of comparator networks, the wire whose value
the edge carries; ``port`` (``"min"``/``"max"``) on edges leaving a
``compare_exchange`` node; ``role`` (``"value"``/``"gate"``) on edges into a
``select`` node; ``role`` (``"a"``/``"b"``) on edges into a ``compare_bit`` node
(``"a"`` carries ``x_i``, ``"b"`` carries ``x_j``).

Node identifiers are tuples whose first item is a short tag, e.g. ``("x", 0)`` for
input 0, ``("c", 5)`` for comparator 5, ``("y", 0)`` for output 0.
"""

from __future__ import annotations

from typing import Final

INPUT: Final = "input"
COMPARE_EXCHANGE: Final = "compare_exchange"
COMPARE_BIT: Final = "compare_bit"
SUM: Final = "sum"
INDICATOR: Final = "indicator"
SELECT: Final = "select"
OUTPUT: Final = "output"

#: Required node attributes per op kind (besides ``op`` itself).
NODE_ATTRIBUTES: Final[dict[str, tuple[str, ...]]] = {
    INPUT: ("wire",),
    COMPARE_EXCHANGE: ("wires", "index"),
    COMPARE_BIT: ("pair",),
    SUM: ("element",),
    INDICATOR: ("element", "rank"),
    SELECT: ("rank",),
    OUTPUT: ("position",),
}

#: Ops that make up a comparator network.
COMPARATOR_OPS: Final = frozenset({INPUT, COMPARE_EXCHANGE, OUTPUT})
#: Ops that make up a rank-counting network.
COUNTING_OPS: Final = frozenset({INPUT, COMPARE_BIT, SUM, INDICATOR, SELECT, OUTPUT})

#: Graph attributes every sortnet graph carries.
GRAPH_ATTRIBUTES: Final = ("n", "kind")
COMPARATOR_KIND: Final = "comparator"
COUNTING_KIND: Final = "counting"


def input_node(wire: int) -> tuple[str, int]:
    """Identifier of the input node of ``wire``."""
    return ("x", wire)


def comparator_node(index: int) -> tuple[str, int]:
    """Identifier of the ``index``-th comparator."""
    return ("c", index)


def output_node(position: int) -> tuple[str, int]:
    """Identifier of the output node at column ``position``."""
    return ("y", position)

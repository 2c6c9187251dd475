"""Rank-counting networks in the sortnet IR (graph kind ``"counting"``).

Element ``i`` has rank ``r_i = sum_j b_ij`` where the compare bit ``b_ij`` is 1
when ``x_j`` comes before ``x_i`` in the stable order (smaller, or equal with a
smaller index). Ties broken by index make the ranks a permutation of
``0..n-1``, so exactly one element has each rank. An indicator marks the
element of rank ``r`` and a select node outputs it.
"""

from __future__ import annotations

import networkx as nx

from sortnet import nodes
from sortnet.errors import SortnetError
from sortnet.network import Network
from sortnet.select import resolve_rank

#: A counting network has n(n-1) compare-to-bit nodes (and its model as many threshold
#: units); at n = 256 that is 65280 nodes and seconds to build, beyond it minutes and GBs.
MAX_COUNTING_N = 256


def counting_network(n: int, k: int | str | None = None) -> Network:
    """The rank-counting network on ``n`` inputs: full sort, or the k-th smallest.

    Parameters
    ----------
    n : int
        Number of inputs, ``n >= 1``.
    k : int or {"min", "median", "max"}, optional
        1-based rank to output; by default all ``n`` ranks (a full sort).

    Returns
    -------
    Network
        Kind ``"counting"``: ``n(n-1)`` ``compare_bit`` nodes, ``n`` ``sum`` nodes,
        one ``indicator`` per element and output rank, one ``select`` per output
        rank, and an ``output`` at position ``rank`` for each.

    Notes
    -----
    Depth 4 (compare, sum, indicator, select) for ``n >= 2``; for ``n = 1`` the
    output reads the input directly.

    Examples
    --------
    >>> net = counting_network(4)
    >>> net.kind, net.n, net.size
    ('counting', 4, 12)
    >>> sorted(counting_network(4, k="median").outputs)
    [1]
    >>> counting_network(0)
    Traceback (most recent call last):
    ...
    sortnet.errors.SortnetError: n must be an integer >= 1, got 0
    """
    if isinstance(n, bool) or not hasattr(n, "__index__") or n < 1:
        raise SortnetError(f"n must be an integer >= 1, got {n!r}")
    n = int(n)
    if n > MAX_COUNTING_N:
        raise SortnetError(
            f"counting networks on more than {MAX_COUNTING_N} inputs are not supported "
            f"(n(n-1) threshold units), got n={n}"
        )
    rank = None if k is None else resolve_rank(k, n)
    ranks = list(range(n)) if rank is None else [rank - 1]
    graph = nx.MultiDiGraph(n=n, kind=nodes.COUNTING_KIND, name="counting", k=rank)
    for i in range(n):
        graph.add_node(nodes.input_node(i), op=nodes.INPUT, wire=i)
    if n == 1:
        graph.add_node(nodes.output_node(0), op=nodes.OUTPUT, position=0)
        graph.add_edge(nodes.input_node(0), nodes.output_node(0))
        return Network(graph)
    for i in range(n):
        graph.add_node(("r", i), op=nodes.SUM, element=i)
        for j in range(n):
            if i != j:
                bit = ("b", i, j)
                graph.add_node(bit, op=nodes.COMPARE_BIT, pair=(i, j))
                graph.add_edge(nodes.input_node(i), bit, role="a")
                graph.add_edge(nodes.input_node(j), bit, role="b")
                graph.add_edge(bit, ("r", i))
    for r in ranks:
        select = ("s", r)
        graph.add_node(select, op=nodes.SELECT, rank=r)
        for i in range(n):
            indicator = ("i", i, r)
            graph.add_node(indicator, op=nodes.INDICATOR, element=i, rank=r)
            graph.add_edge(("r", i), indicator)
            graph.add_edge(nodes.input_node(i), select, role="value")
            graph.add_edge(indicator, select, role="gate")
        graph.add_node(nodes.output_node(r), op=nodes.OUTPUT, position=r)
        graph.add_edge(select, nodes.output_node(r))
    return Network(graph)

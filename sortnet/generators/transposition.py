"""Odd-even transposition sort: ``n`` alternating rounds of neighbour comparators."""

from __future__ import annotations

from sortnet.generators._common import check_flag, check_n, check_size, finish
from sortnet.network import Comparator, Network


def odd_even_transposition(n: int, *, descending: bool = False) -> Network:
    """Odd-even transposition sorting network on ``n`` wires.

    Round ``r = 0, ..., n-1`` compares the neighbours ``(i, i+1)`` with
    ``i = r mod 2``, ``i + 2``, ... : even rounds pair ``(0,1), (2,3), ...``,
    odd rounds pair ``(1,2), (3,4), ...``.

    Parameters
    ----------
    n : int
        Number of wires, ``n >= 1``.
    descending : bool, optional
        Output the values in descending order instead (default ascending).

    Returns
    -------
    Network
        A sorting network with ``graph["family"] == "odd-even-transposition"``.

    Raises
    ------
    SortnetError
        If ``n`` is not an integer ``>= 1`` or ``descending`` is not a bool.

    Notes
    -----
    Size ``n(n-1)/2`` (``ceil(n/2)`` even rounds of ``floor(n/2)`` comparators
    and ``floor(n/2)`` odd rounds of ``floor((n-1)/2)``). Each round is one layer,
    so the depth is ``n`` for ``n >= 3``; for ``n == 2`` the odd round is empty
    (depth 1) and for ``n == 1`` there is nothing to do (depth 0).

    References
    ----------
    .. [1] D. E. Knuth, *The Art of Computer Programming*, vol. 3, 2nd ed.,
       section 5.3.4 (odd-even transposition sort).
    .. [2] N. Habermann, "Parallel neighbor-sort", Carnegie Mellon University
       technical report, 1972.

    Examples
    --------
    >>> net = odd_even_transposition(4)
    >>> net.size, net.depth
    (6, 4)
    >>> net.layers()
    [[(0, 1), (2, 3)], [(1, 2)], [(0, 1), (2, 3)], [(1, 2)]]
    """
    n = check_n(n)
    check_size("odd-even-transposition", n, n * (n - 1) // 2)
    descending = check_flag(descending, "descending")
    comparators = transposition_comparators(n)
    return finish("odd-even-transposition", n, comparators, descending=descending)


def transposition_comparators(n: int) -> list[Comparator]:
    """The comparators of the network on ``n`` wires, without building the graph.

    Examples
    --------
    >>> len(transposition_comparators(4))
    6
    """
    return [(i, i + 1) for r in range(n) for i in range(r % 2, n - 1, 2)]

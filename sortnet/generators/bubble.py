"""Bubble sort as a comparator network."""

from __future__ import annotations

from sortnet.generators._common import check_flag, check_n, check_size, finish
from sortnet.network import Comparator, Network


def bubble(n: int, *, descending: bool = False) -> Network:
    """Bubble sort network on ``n`` wires.

    Pass ``p = n-1, ..., 1`` compares neighbours ``(0, 1), (1, 2), ..., (p-1, p)``,
    carrying the largest remaining value up to wire ``p``.

    Parameters
    ----------
    n : int
        Number of wires, ``n >= 1``.
    descending : bool, optional
        Output the values in descending order instead (default ascending).

    Returns
    -------
    Network
        A sorting network with ``graph["family"] == "bubble"``.

    Raises
    ------
    SortnetError
        If ``n`` is not an integer ``>= 1`` or ``descending`` is not a bool.

    Notes
    -----
    Size ``n(n-1)/2``. Scheduled as soon as possible the passes overlap like a
    pipeline (pass ``p`` starts two layers after pass ``p+1``), so the depth is
    ``2n - 3`` for ``n >= 2`` (and ``0`` for ``n == 1``). At ``n == 4`` this is
    the 6-module bubble sorter of the four-number exercise.

    References
    ----------
    .. [1] D. E. Knuth, *The Art of Computer Programming*, vol. 3, 2nd ed.,
       section 5.3.4 (bubble sort as a network).

    Examples
    --------
    >>> net = bubble(4)
    >>> net.size, net.depth
    (6, 5)
    >>> net.comparators
    [(0, 1), (1, 2), (2, 3), (0, 1), (1, 2), (0, 1)]
    """
    n = check_n(n)
    check_size("bubble", n, n * (n - 1) // 2)
    descending = check_flag(descending, "descending")
    comparators = bubble_comparators(n)
    return finish("bubble", n, comparators, descending=descending)


def bubble_comparators(n: int) -> list[Comparator]:
    """The comparators of the network on ``n`` wires, without building the graph.

    Examples
    --------
    >>> len(bubble_comparators(4))
    6
    """
    return [(i, i + 1) for top in range(n - 1, 0, -1) for i in range(top)]

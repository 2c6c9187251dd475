"""Insertion sort as a comparator network."""

from __future__ import annotations

from sortnet.generators._common import check_flag, check_n, check_size, finish
from sortnet.network import Comparator, Network


def insertion(n: int, *, descending: bool = False) -> Network:
    """Insertion sort network on ``n`` wires.

    Step ``k = 1, ..., n-1`` sinks the value on wire ``k`` into the sorted wires
    ``0..k-1`` with comparators ``(k-1, k), (k-2, k-1), ..., (0, 1)``.

    Parameters
    ----------
    n : int
        Number of wires, ``n >= 1``.
    descending : bool, optional
        Output the values in descending order instead (default ascending).

    Returns
    -------
    Network
        A sorting network with ``graph["family"] == "insertion"``.

    Raises
    ------
    SortnetError
        If ``n`` is not an integer ``>= 1`` or ``descending`` is not a bool.

    Notes
    -----
    Size ``n(n-1)/2`` and depth ``2n - 3`` for ``n >= 2`` (``0`` for ``n == 1``):
    once scheduled in parallel layers the insertion and bubble networks have the
    same shape, only the comparator order differs.

    References
    ----------
    .. [1] D. E. Knuth, *The Art of Computer Programming*, vol. 3, 2nd ed.,
       section 5.3.4 (straight insertion as a network).

    Examples
    --------
    >>> net = insertion(4)
    >>> net.size, net.depth
    (6, 5)
    >>> net.comparators
    [(0, 1), (1, 2), (0, 1), (2, 3), (1, 2), (0, 1)]
    """
    n = check_n(n)
    check_size("insertion", n, n * (n - 1) // 2)
    descending = check_flag(descending, "descending")
    comparators = insertion_comparators(n)
    return finish("insertion", n, comparators, descending=descending)


def insertion_comparators(n: int) -> list[Comparator]:
    """The comparators of the network on ``n`` wires, without building the graph.

    Examples
    --------
    >>> len(insertion_comparators(4))
    6
    """
    return [(i - 1, i) for k in range(1, n) for i in range(k, 0, -1)]

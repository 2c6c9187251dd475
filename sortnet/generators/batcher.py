"""Batcher's odd-even merge sort, for any ``n`` (Knuth's merge exchange, Algorithm 5.2.2M)."""

from __future__ import annotations

from sortnet.generators._common import batcher_size_bound, check_flag, check_n, check_size, finish
from sortnet.network import Comparator, Network


def odd_even_merge(n: int, *, descending: bool = False) -> Network:
    """Batcher's odd-even merge sorting network on ``n`` wires (any ``n >= 1``).

    Built with Batcher's merge exchange, the arbitrary-``n`` form of the odd-even
    merge network (Knuth, Algorithm 5.2.2M): with ``t = ceil(log2 n)``, for
    ``p = 2^(t-1), ..., 2, 1`` it compares ``(i, i + d)`` for every ``i`` with
    ``i & p == r``, where ``(d, r)`` runs through ``(p, 0)`` and then
    ``(q - p, p)`` for ``q = 2^(t-1), ..., 2p``.

    Parameters
    ----------
    n : int
        Number of wires, ``n >= 1``.
    descending : bool, optional
        Output the values in descending order instead (default ascending).

    Returns
    -------
    Network
        A sorting network with ``graph["family"] == "odd-even-merge"``.

    Raises
    ------
    SortnetError
        If ``n`` is not an integer ``>= 1`` or ``descending`` is not a bool.

    Notes
    -----
    For ``n = 2^t`` the size is ``(t^2 - t + 4) 2^(t-2) - 1`` and the depth is
    ``t(t+1)/2``, as for Batcher's odd-even merge sort: 5 comparators in 3 layers
    at ``n = 4``, 19 in 6 at ``n = 8``, 63 in 10 at ``n = 16``. For ``n = 1..16``
    the sizes are 0, 1, 3, 5, 9, 12, 16, 19, 26, 31, 37, 41, 48, 53, 59, 63
    (Knuth's table in 5.3.4); the depth never exceeds ``t(t+1)/2``.

    References
    ----------
    .. [1] K. E. Batcher, "Sorting networks and their applications", Proc. AFIPS
       Spring Joint Computer Conference 32 (1968), 307-314.
    .. [2] D. E. Knuth, *The Art of Computer Programming*, vol. 3, 2nd ed.,
       Algorithm 5.2.2M and section 5.3.4.

    Examples
    --------
    >>> net = odd_even_merge(4)
    >>> net.size, net.depth
    (5, 3)
    >>> net.layers()
    [[(0, 2), (1, 3)], [(0, 1), (2, 3)], [(1, 2)]]
    >>> odd_even_merge(16).size, odd_even_merge(16).depth
    (63, 10)
    """
    n = check_n(n)
    check_size("odd-even-merge", n, batcher_size_bound(n))
    descending = check_flag(descending, "descending")
    return finish("odd-even-merge", n, merge_exchange(n), descending=descending)


def merge_exchange(n: int) -> list[Comparator]:
    """Comparators of Batcher's merge exchange (Knuth, Algorithm 5.2.2M) for ``n`` keys."""
    comparators: list[Comparator] = []
    if n < 2:
        return comparators
    t = (n - 1).bit_length()  # ceil(log2 n)
    p = 1 << (t - 1)
    while p > 0:
        q, r, d = 1 << (t - 1), 0, p
        while True:
            comparators.extend((i, i + d) for i in range(n - d) if i & p == r)
            if q == p:
                break
            d, q, r = q - p, q >> 1, p
        p >>= 1
    return comparators

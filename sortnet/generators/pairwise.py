"""Parberry's pairwise sorting network, for any ``n``."""

from __future__ import annotations

from sortnet.generators._common import batcher_size_bound, check_flag, check_n, check_size, finish
from sortnet.network import Comparator, Network


def pairwise(n: int, *, descending: bool = False) -> Network:
    """Parberry's pairwise sorting network on ``n`` wires (any ``n >= 1``).

    The first half sorts pairs, then pairs of pairs, ... (comparators
    ``(b - a, b)`` between the two halves of each block of ``2a`` wires, for
    ``a = 1, 2, 4, ...``); the second half repairs the result with comparators
    at strides ``d*a`` for ``d = 2^m - 1, ..., 3, 1``. Wires past ``n`` are
    simply never touched, which equals padding with ``+inf`` and pruning.

    Parameters
    ----------
    n : int
        Number of wires, ``n >= 1``.
    descending : bool, optional
        Output the values in descending order instead (default ascending).

    Returns
    -------
    Network
        A sorting network with ``graph["family"] == "pairwise"``.

    Raises
    ------
    SortnetError
        If ``n`` is not an integer ``>= 1`` or ``descending`` is not a bool.

    Notes
    -----
    For ``n = 2^t`` the size is ``(t^2 - t + 4) 2^(t-2) - 1`` and the depth
    ``t(t+1)/2``, exactly those of Batcher's odd-even merge sort (63 comparators
    in 10 layers at ``n = 16``); for other ``n`` the size is at most that of the
    next power of two.

    References
    ----------
    .. [1] I. Parberry, "The pairwise sorting network", Parallel Processing
       Letters 2 (1992), 205-211.
    .. [2] D. E. Knuth, *The Art of Computer Programming*, vol. 3, 2nd ed.,
       section 5.3.4.

    Examples
    --------
    >>> net = pairwise(4)
    >>> net.size, net.depth
    (5, 3)
    >>> net.layers()
    [[(0, 1), (2, 3)], [(0, 2), (1, 3)], [(1, 2)]]
    >>> pairwise(16).size, pairwise(16).depth
    (63, 10)
    """
    n = check_n(n)
    check_size("pairwise", n, batcher_size_bound(n))
    descending = check_flag(descending, "descending")
    return finish("pairwise", n, pairwise_comparators(n), descending=descending)


def pairwise_comparators(n: int) -> list[Comparator]:
    """Comparators of the pairwise sorting network on ``n`` wires."""
    comparators: list[Comparator] = []
    # Phase 1: within each block of 2a wires, compare wire b with b - a.
    a = 1
    while a < n:
        comparators.extend(_strided(n, start=a, stride=a, span=a))
        a *= 2
    # Phase 2: undo the damage with strides d*a, d = 2^m - 1, ..., 3, 1.
    a //= 4
    e = 1
    while a > 0:
        d = e
        while d > 0:
            comparators.extend(_strided(n, start=(d + 1) * a, stride=d * a, span=a))
            d //= 2
        a //= 2
        e = 2 * e + 1
    return comparators


def _strided(n: int, *, start: int, stride: int, span: int) -> list[Comparator]:
    """Pairs ``(b - stride, b)`` for ``b`` in runs of ``span`` wires, skipping ``span``."""
    pairs = []
    b, run = start, 0
    while b < n:
        pairs.append((b - stride, b))
        b += 1
        run += 1
        if run == span:
            b += span
            run = 0
    return pairs

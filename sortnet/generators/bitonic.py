"""Batcher's bitonic sorter, for any ``n`` (pad to a power of two, then prune)."""

from __future__ import annotations

from sortnet.generators._common import (
    batcher_size_bound,
    check_flag,
    check_n,
    check_size,
    finish,
    next_power_of_two,
    prune_to,
)
from sortnet.network import Comparator, Network


def bitonic(n: int, *, descending: bool = False) -> Network:
    """Batcher's bitonic sorting network on ``n`` wires (any ``n >= 1``).

    For ``N = 2^t`` the classic network sorts halves in opposite directions and
    merges the bitonic result, so half its comparators are descending. This
    builder emits the equivalent standard form directly: each merge of a block
    of ``k`` wires starts by comparing wire ``b + i`` with its mirror
    ``b + k - 1 - i`` and continues with half-cleaners ``(i, i + k/4)``, ...,
    ``(i, i + 1)``. It has the same layers as
    ``Network.from_comparators(N, classic)`` (Knuth's exchange applied to the
    descending comparators). For other ``n`` the network for the next power of
    two is pruned to ``n`` wires (the extra wires act as ``+inf`` inputs).

    Parameters
    ----------
    n : int
        Number of wires, ``n >= 1``.
    descending : bool, optional
        Output the values in descending order instead (default ascending).

    Returns
    -------
    Network
        A sorting network with ``graph["family"] == "bitonic"``.

    Raises
    ------
    SortnetError
        If ``n`` is not an integer ``>= 1`` or ``descending`` is not a bool.

    Notes
    -----
    For ``n = 2^t`` the size is ``2^(t-1) t(t+1)/2`` and the depth is
    ``t(t+1)/2``: 6 comparators in 3 layers at ``n = 4``, 24 in 6 at ``n = 8``,
    80 in 10 at ``n = 16``. Pruning never adds layers, so for
    ``2^(t-1) < n < 2^t`` the depth is at most ``t(t+1)/2`` and the size at most
    that of ``2^t``.

    References
    ----------
    .. [1] K. E. Batcher, "Sorting networks and their applications", Proc. AFIPS
       Spring Joint Computer Conference 32 (1968), 307-314.
    .. [2] D. E. Knuth, *The Art of Computer Programming*, vol. 3, 2nd ed.,
       section 5.3.4 (bitonic sorting; exercise on standardizing a network).

    Examples
    --------
    >>> net = bitonic(4)
    >>> net.size, net.depth
    (6, 3)
    >>> net.layers()
    [[(0, 1), (2, 3)], [(0, 3), (1, 2)], [(0, 1), (2, 3)]]
    >>> bitonic(16).size, bitonic(16).depth
    (80, 10)
    """
    n = check_n(n)
    check_size("bitonic", n, batcher_size_bound(n))
    descending = check_flag(descending, "descending")
    comparators = prune_to(n, standard_bitonic(next_power_of_two(n)))
    return finish("bitonic", n, comparators, descending=descending)


def standard_bitonic(size: int) -> list[Comparator]:
    """Standard-form bitonic sorter comparators for ``size`` a power of two."""
    comparators: list[Comparator] = []
    block = 2
    while block <= size:
        for base in range(0, size, block):
            comparators.extend((base + i, base + block - 1 - i) for i in range(block // 2))
        gap = block // 4
        while gap >= 1:
            for base in range(0, size, 2 * gap):
                comparators.extend((base + i, base + i + gap) for i in range(gap))
            gap //= 2
        block *= 2
    return comparators


def classic_bitonic(size: int) -> list[Comparator]:
    """Batcher's original comparators for ``size`` a power of two.

    A descending comparator is written ``(b, a)`` with ``b > a`` (the minimum
    goes to the first wire), which :meth:`Network.from_comparators` converts.

    Examples
    --------
    >>> classic_bitonic(4)
    [(0, 1), (3, 2), (0, 2), (1, 3), (0, 1), (2, 3)]
    """
    comparators: list[Comparator] = []

    def sort(low: int, count: int, up: bool) -> None:
        if count > 1:
            half = count // 2
            sort(low, half, True)
            sort(low + half, half, False)
            merge(low, count, up)

    def merge(low: int, count: int, up: bool) -> None:
        if count > 1:
            half = count // 2
            for i in range(low, low + half):
                comparators.append((i, i + half) if up else (i + half, i))
            merge(low, half, up)
            merge(low + half, half, up)

    sort(0, size, True)
    return comparators

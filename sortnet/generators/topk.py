"""Top-k networks: comparator networks whose last ``k`` outputs hold the ``k`` largest, sorted.

:func:`topk_network` builds a "sort blocks, then merge and truncate" tournament:

1. The ``n`` wires are cut into blocks of ``b`` wires (``b`` a power of two, at least
   ``k``; the last block may be short). Each block is sorted by the best-known sorter
   on ``b`` wires (``b <= 64``) or Batcher's odd-even merge sorter, and everything
   below its ``k`` largest is dropped: a value with ``k`` larger ones in its block
   cannot be among the ``k`` largest of the row.
2. Sorted lists are merged in pairs, level by level, keeping only the ``k`` largest:
   with the lists padded to ``K = next_power_of_two(k)``, one comparator per pair
   ``(A[t], B[K-1-t])`` leaves the ``K`` largest of the union as a bitonic sequence
   in ``A`` (Batcher's half-cleaner), a bitonic merger sorts it (``K/2 log2 K``
   comparators), and again everything below the ``k`` largest is dropped.

Wires past ``n`` and dropped wires are constants (smaller than every value), so the
comparators that touch them are decided when the network is built and left out (the
larger value is relabelled onto the comparator's upper wire instead). The comparators
that cannot reach an output are pruned at the end. Every block size ``b`` from
``next_power_of_two(k)`` up is tried and the network with the fewest comparators kept.

The result is an ordinary comparator network in standard form (the larger value goes
to the upper wire) on ``n`` wires whose output positions ``n-k .. n-1`` hold ranks
``n-k+1 .. n`` (position ``n-1`` the largest): :func:`sortnet.verify` checks exactly
that, output by output (by the 0-1 principle, for every input). The same network
gives the ``k`` smallest when run on negated keys; :mod:`sortnet.circuit.topk` runs it
on ``(key, index)`` pairs so that ties keep the smaller index first.
"""

from __future__ import annotations

import functools
import operator

from sortnet.errors import InputError, SortnetError
from sortnet.generators._common import check_n, next_power_of_two
from sortnet.generators.batcher import merge_exchange
from sortnet.generators.best import MAX_BEST_N, best
from sortnet.network import Comparator, Network, comparator_graph

#: Largest ``n`` :func:`topk_network` builds (``k = n = 4096``: 139,263 comparators).
MAX_TOPK_N = 4096


def check_topk_args(n: object, k: object) -> tuple[int, int]:
    """``(n, k)`` as ints if ``1 <= k <= n <= MAX_TOPK_N``, else an error naming the problem.

    Examples
    --------
    >>> check_topk_args(128, 8)
    (128, 8)
    >>> check_topk_args(4, 5)
    Traceback (most recent call last):
    ...
    sortnet.errors.InputError: k must be an integer in 1..n=4, got 5
    >>> check_topk_args(4, True)
    Traceback (most recent call last):
    ...
    sortnet.errors.InputError: k must be an integer in 1..n=4, got True
    """
    n = check_n(n)
    if n > MAX_TOPK_N:
        raise SortnetError(f"top-k networks go up to n={MAX_TOPK_N}, got n={n}")
    if isinstance(k, bool) or not hasattr(k, "__index__") or not 1 <= operator.index(k) <= n:
        raise InputError(f"k must be an integer in 1..n={n}, got {k!r}")
    return n, operator.index(k)


def topk_network(n: int, k: int) -> Network:
    """The network whose output positions ``n-k .. n-1`` hold the ``k`` largest, ascending.

    Parameters
    ----------
    n : int
        Number of wires, ``1 <= n <=`` :data:`MAX_TOPK_N`.
    k : int
        How many of the largest values to output, ``1 <= k <= n``.

    Returns
    -------
    Network
        A comparator network with ``k`` outputs: position ``n-1-r`` holds the
        ``(r+1)``-th largest (``r = 0 .. k-1``). ``graph["family"] == "topk"``,
        ``graph["k"] == k`` and ``graph["block"]`` is the block size used.

    Raises
    ------
    SortnetError
        If ``n`` or ``k`` is not an integer in range.

    Examples
    --------
    >>> net = topk_network(128, 8)
    >>> net.size, net.graph.graph["block"], list(net.outputs)
    (572, 16, [120, 121, 122, 123, 124, 125, 126, 127])
    >>> from sortnet.verify import verify
    >>> verify(topk_network(32, 4)).ok
    True
    >>> topk_network(5, 5).size  # k = n: a sorting network (the best known on 5 wires)
    9
    """
    n, k = check_topk_args(n, k)
    return _build(n, k)


@functools.lru_cache(maxsize=64)
def _build(n: int, k: int) -> Network:
    top = next_power_of_two(n)
    blocks = []
    b = next_power_of_two(k)
    while True:
        blocks.append(b)
        if b >= top:
            break
        b *= 2
    best_plan: tuple[int, int, list[Comparator], list[int]] | None = None
    for b in blocks:
        comparators, outputs = _plan(n, k, b)
        if best_plan is None or len(comparators) < best_plan[0]:
            best_plan = (len(comparators), b, comparators, outputs)
    assert best_plan is not None
    _, block, comparators, outputs = best_plan
    standard, wire_of = _standard_form(n, comparators)
    positions = {n - 1 - r: wire_of[wire] for r, wire in enumerate(outputs)}
    graph = comparator_graph(n, standard, dict(sorted(positions.items())))
    graph.graph.update(name=f"topk n={n} k={k}", family="topk", k=k, block=block, descending=False)
    return Network(graph)


class _Wires:
    """Logical wires mapped to physical ones (None: a constant below every value)."""

    def __init__(self, n: int, total: int) -> None:
        self.slot: list[int | None] = [*range(n), *([None] * (total - n))]
        self.comparators: list[Comparator] = []

    def cx(self, i: int, j: int) -> None:
        """Compare-exchange logical wires ``i`` and ``j``: the larger value ends on ``j``."""
        a, b = self.slot[i], self.slot[j]
        if a is None:
            return  # j holds the larger already (or both are constants)
        if b is None:
            self.slot[i], self.slot[j] = None, a  # the value moves up: a relabelling
            return
        self.comparators.append((a, b))  # physical: minimum to a, maximum to b

    def drop(self, wires: list[int]) -> None:
        for wire in wires:
            self.slot[wire] = None


@functools.lru_cache(maxsize=16)
def _sorter(b: int) -> tuple[list[Comparator], list[int]]:
    """A sorter on ``b`` wires: its comparators and the wire of each rank (ascending)."""
    if b <= MAX_BEST_N:
        net = best(b)
        return net.comparators, net.output_wires
    return merge_exchange(b), list(range(b))  # Batcher's odd-even merge sort


def _standard_form(n: int, comparators: list[Comparator]) -> tuple[list[Comparator], list[int]]:
    """Flip comparators with ``a > b`` by relabelling the wires after them (Knuth's exchange).

    Returns the standard comparators and, for each wire, the wire its value ends on.
    """
    wire_of = list(range(n))
    standard = []
    for a, b in comparators:
        i, j = wire_of[a], wire_of[b]
        if i > j:
            wire_of[a], wire_of[b] = j, i
            i, j = j, i
        standard.append((i, j))
    return standard, wire_of


def _plan(n: int, k: int, b: int) -> tuple[list[Comparator], list[int]]:
    """Physical comparators (minimum first) and the output wires, largest first."""
    K = next_power_of_two(k)
    count = -(-n // b)
    wires = _Wires(n, count * b)
    sorter, ranked = _sorter(b)
    lists = []
    for block in range(count):
        base = block * b
        for i, j in sorter:
            wires.cx(base + i, base + j)
        ascending = [base + wire for wire in ranked]
        wires.drop(ascending[: b - k])
        lists.append(ascending[b - K :])  # the top K wires; those below the k-th are constants
    while len(lists) > 1:
        merged = []
        for left, right in zip(lists[::2], lists[1::2], strict=False):
            for t in range(K):  # the K largest of both, bitonic, in `left`
                wires.cx(right[K - 1 - t], left[t])
            wires.drop(right)
            _bitonic_merge(wires, left)
            wires.drop(left[: K - k])
            merged.append(left)
        if len(lists) % 2:
            merged.append(lists[-1])
        lists = merged
    top = [wires.slot[wire] for wire in reversed(lists[0][K - k :])]
    assert all(wire is not None for wire in top)
    outputs = [int(wire) for wire in top if wire is not None]
    return _prune(wires.comparators, outputs), outputs


def _bitonic_merge(wires: _Wires, seq: list[int]) -> None:
    """Sort the bitonic sequence on logical wires ``seq`` (length a power of two) ascending."""
    half = len(seq) // 2
    if half == 0:
        return
    for t in range(half):
        wires.cx(seq[t], seq[t + half])
    _bitonic_merge(wires, seq[:half])
    _bitonic_merge(wires, seq[half:])


def _prune(comparators: list[Comparator], outputs: list[int]) -> list[Comparator]:
    """The comparators in the backward cone of ``outputs`` (the others change no output)."""
    live = set(outputs)
    kept = []
    for a, b in reversed(comparators):
        if a in live or b in live:
            kept.append((a, b))
            live.update((a, b))
    kept.reverse()
    return kept

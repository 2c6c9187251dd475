"""Selection networks: the smallest known network that puts the k-th smallest on wire k-1."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sortnet.generators import library
from sortnet.generators._common import check_n
from sortnet.generators.batcher import odd_even_merge
from sortnet.generators.bitonic import bitonic
from sortnet.generators.pairwise import pairwise
from sortnet.network import Comparator, Network
from sortnet.select import KSpec, resolve_rank

#: Families pruned at ``n`` as candidates (the quadratic ones are never smaller).
PRUNED_FAMILIES = {"odd-even-merge": odd_even_merge, "pairwise": pairwise, "bitonic": bitonic}
#: Sorters on at most ``n + NEAR`` wires are cut at every window, larger ones at the ends.
NEAR = 12


@dataclass(frozen=True)
class _Candidate:
    """A selection network: its cone comparators, depth and where it came from."""

    comparators: tuple[Comparator, ...]
    depth: int
    source: str

    @property
    def key(self) -> tuple[int, int]:
        return len(self.comparators), self.depth


def selection_network(n: int, k: KSpec = "median") -> Network:
    """The smallest known network whose output k (wire ``k-1``) holds the k-th smallest.

    Parameters
    ----------
    n : int
        Number of wires, ``n >= 1``.
    k : int or {"median", "min", "max"}, optional
        1-based rank, as in :func:`sortnet.select`: ``"median"`` (default) is the
        lower median ``(n+1)//2``.

    Returns
    -------
    Network
        A standard-form network with one output, position ``k-1`` on wire ``k-1``,
        named ``select-<n>-k<k>``, with ``graph["family"] == "selection"``,
        ``graph["k"]`` and ``graph["source"]`` saying where it came from (e.g.
        ``"Median_25_85_16 (SorterHunter)"`` or
        ``"Sort_32_185_14 (SorterHunter) pruned to k=3"``).

    Raises
    ------
    SortnetError
        If ``n`` is not an integer ``>= 1`` (within sortnet's wire limit); an
        :class:`~sortnet.errors.InputError` if ``k`` is not a rank in ``1..n``.

    Notes
    -----
    The candidates, smallest (then shallowest) wins:

    * for ``k = 1`` or ``k = n``, a tournament of ``n - 1`` comparators, which is
      optimal (each comparator eliminates at most one candidate);
    * the best-known median network on ``n`` wires (SorterHunter [1]_); for even
      ``n`` its two middle outputs are unordered, so one comparator is added;
    * every packaged best-known sorting and median network on ``N >= n`` wires
      (``N <= 64``), with wires below and above a window of ``n`` wires fixed to
      ``-inf`` and ``+inf``: in a standard network those values never move, so
      every comparator that touches them is dropped and rank ``k + a`` of ``N``
      becomes rank ``k`` of ``n`` (``a`` wires fixed to ``-inf``); also the
      mirror images (wire ``i`` to ``N-1-i``, rank ``k`` to ``N+1-k``). Sorters
      on ``N > n + 12`` wires are cut at the two ends only, to keep the search
      fast (a fraction of a second on first use of an ``n``, then cached);
    * the ``odd-even-merge``, ``pairwise`` and ``bitonic`` networks on ``n``.

    Each is pruned to the cone of output ``k`` (:func:`sortnet.select`). For the
    median of odd ``n <= 64`` this gives the best-known median network itself
    (``n = 25``: 85 comparators against 102 for the best sorter pruned); for the
    lower median of even ``n`` it is never more than the median network plus one
    and sometimes equal to it (``n = 16``: 46 comparators, from the 17-input
    median network). Without a packaged network (``n > 64``) it prunes the
    families. Every result is checked by the 0-1 principle in the tests
    (:func:`sortnet.verify` with ``k``).

    References
    ----------
    .. [1] B. Dobbelaere, "Smallest and fastest median selection networks",
       https://bertdobbelaere.github.io/median_networks.html; SorterHunter,
       https://github.com/bertdobbelaere/SorterHunter (MIT licence).
    .. [2] D. E. Knuth, *The Art of Computer Programming*, vol. 3, 2nd ed.,
       section 5.3.4 (selection networks).

    Examples
    --------
    >>> net = selection_network(25, "median")
    >>> net.name, net.size, net.graph.graph["source"]
    ('select-25-k13', 85, 'Median_25_85_16 (SorterHunter)')
    >>> selection_network(32, "min").size
    31
    >>> import sortnet
    >>> sortnet.verify(selection_network(9, 3), k=3).ok
    True
    >>> selection_network(4, 5)
    Traceback (most recent call last):
    ...
    sortnet.errors.InputError: k must be in 1..n=4, got 5
    """
    n = check_n(n)
    k = resolve_rank(k, n)
    best = _best_candidate(n, k)
    return Network.from_comparators(
        n,
        best.comparators,
        name=f"select-{n}-k{k}",
        outputs=[k - 1],
        family="selection",
        k=k,
        source=best.source,
    )


@functools.lru_cache(maxsize=512)
def _best_candidate(n: int, k: int) -> _Candidate:
    """The smallest (then shallowest) candidate for rank ``k`` of ``n``; first wins ties."""
    if n == 1:
        return _Candidate((), 0, "trivial")
    winner: _Candidate | None = None
    best_size = None
    for source, comparators, masks in _sources(n, k):
        size = _cone_size(masks, 1 << (k - 1), best_size)
        if best_size is not None and size > best_size:
            continue
        candidate = _cone(n, k, comparators, source)
        if winner is None or candidate.key < winner.key:
            winner, best_size = candidate, size
    assert winner is not None  # the families always give one
    return winner


def _sources(n: int, k: int) -> Iterator[tuple[str, tuple[Comparator, ...], tuple[int, ...]]]:
    """``(source, comparators, masks)`` of every network that can select rank ``k`` of ``n``."""
    if k in (1, n):
        comparators = tuple(tournament(n, low=k == 1))
        yield "tournament", comparators, _masks(comparators)
    for rank, source, comparators, masks in _windows(n):
        if rank in (0, k):
            exact = rank and source.endswith("(SorterHunter)")
            yield source if exact else f"{source} pruned to k={k}", comparators, masks
    if n > library.MAX_N:
        for family, build in PRUNED_FAMILIES.items():
            comparators = tuple(build(n).comparators)
            yield f"{family} {n} pruned to k={k}", comparators, _masks(comparators)


Window = tuple[int, str, tuple[Comparator, ...], tuple[int, ...]]


@functools.lru_cache(maxsize=8)
def _windows(n: int) -> tuple[Window, ...]:
    """Every packaged network on ``N >= n`` wires cut to a window of ``n`` wires.

    Each entry is ``(rank, source, comparators, masks)``: ``rank`` is the rank it
    selects (0: every rank, a sorter).
    """
    windows: list[Window] = []
    for N in range(n, library.MAX_N + 1):
        for kind in ("median", "sorter"):
            for entry in library.variants(kind, N):
                windows.extend(_padded(n, kind, entry))
    return tuple(windows)


def _padded(n: int, kind: str, entry: library.LibraryNetwork) -> Iterator[Window]:
    """``entry`` (and its mirror image) cut to windows of ``n`` wires."""
    N = entry.n
    label = f"{entry.source} (SorterHunter)"
    comparators = list(entry.comparators)
    if kind == "median":
        ranks = [(N + 1) // 2] if N % 2 else [N // 2, N // 2 + 1]
        if N % 2 == 0:
            comparators.append((N // 2 - 1, N // 2))
            label += f" + ({N // 2 - 1},{N // 2})"
        # Every shift a = rank - k that leaves the window inside the network.
        shifts = {(rank - k, k) for rank in ranks for k in range(1, n + 1) if rank - k >= 0}
        shifts = {(a, k) for a, k in shifts if a <= N - n}
    elif N - n <= NEAR:  # sorters close to n: every window (rank 0 = every rank)
        shifts = {(a, 0) for a in range(N - n + 1)}
    else:  # sorters far from n: pad at one end only
        shifts = {(0, 0), (N - n, 0)}
    for mirrored in (False, True):
        # A mirrored median network selects the mirrored ranks: the same set.
        comps = _mirror(N, comparators) if mirrored else comparators
        cuts: dict[int, tuple[Comparator, ...]] = {}
        for a, rank in sorted(shifts):
            if a not in cuts:
                cuts[a] = tuple((i - a, j - a) for i, j in comps if i >= a and j < a + n)
            text = label + (" mirrored" if mirrored else "")
            if (N, a) != (n, 0):
                text += f" on wires {a}..{a + n - 1}"
            yield rank, text, cuts[a], _masks(cuts[a])


def _masks(comparators: Sequence[Comparator]) -> tuple[int, ...]:
    """Each comparator's two wires as a bit mask."""
    return tuple((1 << i) | (1 << j) for i, j in comparators)


def _cone_size(masks: Sequence[int], needed: int, limit: int | None = None) -> int:
    """How many comparators can reach the wires in ``needed`` (stops past ``limit``)."""
    size = 0
    stop = len(masks) if limit is None else limit
    for mask in reversed(masks):
        if needed & mask:
            size += 1
            if size > stop:
                break
            needed |= mask
    return size


def _mirror(N: int, comparators: Sequence[Comparator]) -> list[Comparator]:
    """The mirror image: wire ``i`` becomes ``N-1-i``; rank ``k`` becomes ``N+1-k``."""
    return [(N - 1 - j, N - 1 - i) for i, j in comparators]


def _cone(n: int, k: int, comparators: Sequence[Comparator], source: str) -> _Candidate:
    """The comparators that can reach wire ``k-1``, with their depth."""
    needed = 1 << (k - 1)
    kept = []
    for i, j in reversed(comparators):
        if (needed >> i) & 1 or (needed >> j) & 1:
            kept.append((i, j))
            needed |= (1 << i) | (1 << j)
    kept.reverse()
    level = [0] * n
    for i, j in kept:
        level[i] = level[j] = max(level[i], level[j]) + 1
    return _Candidate(tuple(kept), max(level, default=0), source)


def tournament(n: int, *, low: bool = True) -> list[Comparator]:
    """A knockout tournament: ``n - 1`` comparators leave the minimum on wire 0.

    With ``low=False`` the maximum ends on wire ``n - 1`` instead. ``n - 1``
    comparators are necessary: each one rules out at most one candidate.

    Examples
    --------
    >>> tournament(5)
    [(0, 1), (2, 3), (0, 2), (0, 4)]
    >>> tournament(5, low=False)
    [(3, 4), (1, 2), (2, 4), (0, 4)]
    """
    comparators: list[Comparator] = []
    step = 1
    while step < n:
        comparators.extend((i, i + step) for i in range(0, n - step, 2 * step))
        step *= 2
    return comparators if low else _mirror(n, comparators)

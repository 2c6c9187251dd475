"""Verification of sorting and selection networks by the 0-1 principle.

:func:`verify` proves a comparator network sorts (or selects the k-th smallest) by
checking every 0-1 input, bit-parallel and after the prefix reduction of
:mod:`sortnet.zero_one`; when even that is too much work it falls back to a
randomized check that is labelled as such (``exhaustive=False``) and never a proof.
"""

from __future__ import annotations

import math
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from sortnet import nodes, zero_one
from sortnet.errors import InputError, SortnetError, TooMuchWorkError
from sortnet.network import Network
from sortnet.progress import progress as progress_bar
from sortnet.select import KSpec, rank_position, resolve_k, select

#: Default number of random 0-1 patterns in a randomized check.
DEFAULT_SAMPLES = 1 << 22
#: Automatic mode proves exhaustively when the suffix needs at most this many
#: word-comparator operations (a few seconds on one core).
AUTO_WORK_BUDGET = 1 << 33
#: Largest ``n`` the exhaustive check handles (patterns are 64-bit masks).
MAX_EXHAUSTIVE_N = 64
_CHUNK_WORDS = 1 << 15
#: Seconds per word-comparator operation of the exhaustive check (one AND and one OR
#: on 64 patterns), the rate its time estimate uses. Measured on the development
#: machine, 2 cores both busy (load average 3): bubble n=42, 44, 46 ran 0.50, 2.25 and
#: 10.0 G operations in 1.45, 4.5 and 19.3 s, 1.6-1.9 ns each including planning.
#: Networks with more prefix reduction (Sort_64_521_21: 3.4 ns) spend relatively more
#: on planning, which the estimate ignores (bounded by PREFIX_BUDGET: 0.01-0.5 s for the
#: n = 24..44 SorterHunter files and bubble 32/40, 2.6 s for odd-even-transposition 40);
#: at n = 24..40 the suffix work is tiny (SorterHunter Sort_24..Sort_40: n + 1 patterns,
#: under 0.1 s; bubble 40: 1.1e8 operations, estimated 0.2 s, ran 0.8 s with planning).
#: The estimate is meant to separate seconds from days, not to time a run to the second.
SECONDS_PER_OP = 2e-9
#: Seconds per word and comparator of the randomized check, including drawing the
#: patterns and sorting the random permutations: 8-29 ns measured (bubble 64,
#: bitonic 256, bubble 16 on 2**24, 2**22, 2**26 samples; bitonic 1024 on 2**20: 11 ns,
#: 6.6 s against an estimate of 17.9 s); the estimate takes the top.
SECONDS_PER_RANDOM_OP = 3e-8
#: Refuse a check estimated to take longer than this unless ``max_seconds`` says more.
DEFAULT_MAX_SECONDS = 600.0
#: Show a progress bar (stderr) for checks estimated past this, even off a terminal.
LONG_SECONDS = 10.0
#: Rows per batch of the randomized check's permutations (bounds their memory).
_PERMUTATION_ROWS = 1 << 16


@dataclass(frozen=True, repr=False)
class VerificationResult:
    """The outcome of :func:`verify`.

    Attributes
    ----------
    ok : bool
        True when no failing input was found.
    exhaustive : bool
        True when every 0-1 input was covered, so ``ok`` is a proof (0-1 principle);
        False for a randomized check, which can miss failures.
    checked : int
        Inputs covered: ``2**n`` after a complete exhaustive check, the number of
        random samples for a randomized one, or the patterns examined before a
        failure was found.
    counterexample : tuple or None
        An input row the network gets wrong (0-1 values, or a permutation of
        ``0..n-1`` from the randomized check), or None.
    k : int or None
        The 1-based rank checked (None: the whole sorted output).
    elapsed : float
        Wall-clock seconds.
    evaluated : int
        Patterns actually pushed through the bit-parallel kernel (after the prefix
        reduction; often far fewer than ``checked``).
    """

    ok: bool
    exhaustive: bool
    checked: int
    counterexample: tuple[int, ...] | None
    k: int | None
    elapsed: float
    evaluated: int = 0

    def __repr__(self) -> str:
        how = "exhaustive 0-1 proof" if self.exhaustive else "randomized check, not a proof"
        what = "sort" if self.k is None else f"select k={self.k}"
        verdict = ("" if self.ok else "does not ") + what + ("s" if self.ok else "")
        cex = "" if self.counterexample is None else f", counterexample={self.counterexample}"
        return (
            f"VerificationResult(ok={self.ok}: {verdict}; {how}; checked={self.checked}, "
            f"evaluated={self.evaluated}{cex}, elapsed={self.elapsed:.3f}s)"
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (keys: ok, exhaustive, checked, counterexample, k, ...)."""
        return {
            "ok": self.ok,
            "exhaustive": self.exhaustive,
            "checked": self.checked,
            "counterexample": None if self.counterexample is None else list(self.counterexample),
            "k": self.k,
            "elapsed": self.elapsed,
            "evaluated": self.evaluated,
        }


def verify(
    net: Network,
    k: KSpec | None = None,
    *,
    exhaustive: bool | None = None,
    samples: int = DEFAULT_SAMPLES,
    seed: int | None = None,
    progress: bool | None = None,
    max_seconds: float | None = DEFAULT_MAX_SECONDS,
) -> VerificationResult:
    """Check that ``net`` sorts, or that its output ``k`` holds the k-th smallest.

    Parameters
    ----------
    net : Network
        A comparator network. Output position ``p`` should hold the ``(p+1)``-th
        smallest value (the ``(n-p)``-th for a descending network). A network with
        some outputs only (a selection network) is checked at those positions.
    k : int or {"median", "min", "max"}, optional
        Check only the k-th smallest output (1-based; median is the lower median).
        The network is first pruned with :func:`sortnet.select`.
    exhaustive : bool or None
        True forces the exhaustive check (``n <= 64``), False forces the randomized
        one; None proves exhaustively when the estimated work is affordable
        (:data:`AUTO_WORK_BUDGET`), else falls back to the randomized check.
    samples : int
        Random 0-1 patterns of the randomized check, which also sorts
        ``max(1, samples // 64)`` random permutations of ``0..n-1``.
    seed : int, optional
        Seed of the randomized check.
    progress : bool or None
        Show a progress bar on stderr (None: when stderr is a terminal, or when the
        check is estimated to take more than :data:`LONG_SECONDS`).
    max_seconds : float or None
        Refuse, before starting, a check estimated to take longer (None: no limit).
        The estimate counts the word operations left after the prefix reduction at
        :data:`SECONDS_PER_OP` each (randomized: :data:`SECONDS_PER_RANDOM_OP`).

    Returns
    -------
    VerificationResult

    Raises
    ------
    TooMuchWorkError
        If the estimated time is past ``max_seconds``; the message says how long
        the check would take (``error.estimate`` seconds).
    InputError
        For bad ``samples``, ``seed``, ``exhaustive`` or ``max_seconds``, or an
        exhaustive check asked for ``n > 64``.

    Examples
    --------
    >>> net = Network.from_comparators(4, [(0, 1), (2, 3), (0, 2), (1, 3), (1, 2)])
    >>> result = verify(net)
    >>> result.ok, result.exhaustive, result.checked
    (True, True, 16)
    >>> broken = Network.from_comparators(4, [(0, 1), (2, 3), (0, 2), (1, 3)])
    >>> verify(broken).counterexample
    (0, 1, 0, 1)
    >>> verify(broken, k=4).ok  # the maximum is right even so
    True
    >>> from sortnet.generators import bubble
    >>> verify(bubble(64), exhaustive=True)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    sortnet.errors.TooMuchWorkError: exhaustive verification of bubble-64 would take about ...
    """
    start = time.perf_counter()
    if not isinstance(net, Network) or net.kind != nodes.COMPARATOR_KIND:
        raise SortnetError(f"verify needs a comparator network, got {_describe(net)}")
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise InputError(f"samples must be a positive integer, got {samples!r}")
    if seed is not None and (isinstance(seed, bool) or not hasattr(seed, "__index__") or seed < 0):
        raise InputError(f"seed must be an integer >= 0 or None, got {seed!r}")
    if exhaustive not in (None, True, False):
        raise InputError(f"exhaustive must be True, False or None, got {exhaustive!r}")
    if max_seconds is not None and (
        isinstance(max_seconds, bool)
        or not isinstance(max_seconds, (int, float))
        or not max_seconds > 0
    ):
        raise InputError(f"max_seconds must be a positive number or None, got {max_seconds!r}")
    net, ranked, k_checked = _target(net, k)
    n, comparators = net.n, net.comparators
    check = zero_one.make_check(n, ranked)
    plan = None
    if exhaustive is not False and n <= MAX_EXHAUSTIVE_N:
        plan = zero_one.plan_exhaustive(n, comparators)
    elif exhaustive:
        raise InputError(
            f"exhaustive verification needs n <= {MAX_EXHAUSTIVE_N} (2**n patterns), got n={n}"
        )
    work = None if plan is None else _work(plan, check)
    if plan is not None and work is not None and (exhaustive or work <= AUTO_WORK_BUDGET):
        seconds = work * SECONDS_PER_OP
        _check_time(net, "exhaustive verification", seconds, max_seconds, f"{work:.3g} word")
        show = _show_progress(progress, seconds)
        ok, checked, evaluated, cex_mask = _run_exhaustive(plan, check, show)
        cex = None if cex_mask is None else _mask_to_row(cex_mask, n)
        proof = True
    else:
        ops = math.ceil(samples / 64) * (len(comparators) + 8 * n)
        seconds = ops * SECONDS_PER_RANDOM_OP
        _check_time(net, "randomized verification", seconds, max_seconds, f"{ops:.3g} random")
        show = _show_progress(progress, seconds)
        ok, checked, cex = _run_randomized(net, check, samples, seed, show)
        evaluated, proof = checked, False
    return VerificationResult(
        ok, proof, checked, cex, k_checked, time.perf_counter() - start, evaluated
    )


def _check_time(
    net: Network, what: str, seconds: float, max_seconds: float | None, ops: str
) -> None:
    """Refuse a check estimated to take longer than ``max_seconds``, before it starts."""
    if max_seconds is None or seconds <= max_seconds:
        return
    hint = (
        "use the randomized check (exhaustive=False; not a proof)"
        if what.startswith("exhaustive")
        else "take fewer samples"
    )
    raise TooMuchWorkError(
        f"{what} of {net.name or f'a network on {net.n} wires'} would take about "
        f"{describe_seconds(seconds)} ({ops} operations), more than "
        f"max_seconds={max_seconds:g}; {hint}, or raise max_seconds",
        estimate=seconds,
        limit=max_seconds,
    )


def _show_progress(progress: bool | None, seconds: float) -> bool | None:
    """A bar when asked, else when stderr is a terminal or the check will be long."""
    if progress is not None:
        return progress
    return True if seconds > LONG_SECONDS else None


def describe_seconds(seconds: float) -> str:
    """A duration in the largest unit that keeps it at least 1, for messages.

    Examples
    --------
    >>> describe_seconds(12), describe_seconds(10_800), describe_seconds(1.1e7)
    ('12 seconds', '3 hours', '127 days')
    >>> describe_seconds(1e12)
    '31688 years'
    """
    for unit, size in (("years", 365.25 * 86400), ("days", 86400), ("hours", 3600)):
        if seconds >= 2 * size or (unit == "hours" and seconds >= size):
            return f"{seconds / size:.0f} {unit}"
    if seconds >= 120:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds:.0f} seconds"


def _describe(value: object) -> str:
    if isinstance(value, Network):
        return f"a {value.kind} network"
    return type(value).__name__


def _target(net: Network, k: KSpec | None) -> tuple[Network, dict[int, int], int | None]:
    """The network to run, the ``{rank: wire}`` outputs to check, and the k reported."""
    if k is not None:
        k_int = resolve_k(net, k)
        pruned = select(net, k_int)
        return pruned, {k_int - 1: pruned.output_wires[0]}, k_int
    ranked = {rank_position(net, position): wire for position, wire in net.outputs.items()}
    if len(ranked) == 1:
        (rank,) = ranked
        return select(net, rank + 1), ranked, rank + 1
    return net, ranked, None


def _work(plan: zero_one.Plan, check: zero_one.Check) -> int:
    per_word = len(plan.suffix) + len(check.pairs) + len(check.thresholds) * 2 * check.count_bits
    return plan.outer_count * plan.inner.shape[1] * max(per_word, 1)


def _run_exhaustive(
    plan: zero_one.Plan, check: zero_one.Check, progress: bool | None
) -> tuple[bool, int, int, int | None]:
    """Run the suffix over every prefix output; (ok, checked, evaluated, counterexample)."""
    n, words = plan.n, plan.inner.shape[1]
    per_u = max(1, _CHUNK_WORDS // words)
    step = min(words, _CHUNK_WORDS)
    tasks = (
        (u0, min(u0 + per_u, plan.outer_count), w0, min(w0 + step, words))
        for u0 in range(0, plan.outer_count, per_u)
        for w0 in range(0, words, step)
    )

    def run(task: tuple[int, int, int, int]) -> tuple[int, int, int]:
        u0, u1, w0, w1 = task
        masks, _ = plan.outer_masks(u0, u1)
        width = w1 - w0
        block = np.tile(plan.inner[:, w0:w1], (1, u1 - u0))
        block |= np.repeat(zero_one.spread(masks, n), width, axis=1)
        index, bits = zero_one.check_block(block, plan.suffix, check)
        if index < 0:
            return -1, -1, 0
        return u0 + index // width, w0 + index % width, bits

    def size(task: tuple[int, int, int, int]) -> int:
        # Distinct patterns only: padding at the end of the inner block is not counted.
        real = min(task[3] * 64, plan.inner_count) - task[2] * 64
        return (task[1] - task[0]) * max(real, 0)

    examined, failure = _first_failure(tasks, run, size, plan.distinct, progress)
    if failure is None:
        return True, 2**n, plan.distinct, None
    u, w, bits = failure
    bit = (bits & -bits).bit_length() - 1
    _, outer_reps = plan.outer_masks(u, u + 1)
    mask = int(plan.inner_reps[w * 64 + bit]) | int(outer_reps[0])
    return False, examined, examined, mask


def _first_failure(
    tasks: Iterator[Any],
    run: Callable[[Any], tuple[int, int, int]],
    size: Callable[[Any], int],
    total: int,
    progress: bool | None,
) -> tuple[int, tuple[int, int, int] | None]:
    """Run tasks on all cores, in order; stop at the first failing one.

    Results are consumed in submission order, so the reported failure is the first
    one in enumeration order whatever the thread timing. Returns the patterns
    examined and the failure ``(u, w, bits)`` or None.
    """
    workers = max(1, os.cpu_count() or 1)
    examined = 0
    with (
        progress_bar(total, desc="verify", unit="pattern", enabled=progress) as bar,
        ThreadPoolExecutor(max_workers=workers) as pool,
    ):
        pending: deque[tuple[Any, Future[tuple[int, int, int]]]] = deque()
        for task in tasks:
            pending.append((task, pool.submit(run, task)))
            if len(pending) < 2 * workers:
                continue
            done, future = pending.popleft()
            result = future.result()
            examined += size(done)
            bar.update(size(done))
            if result[0] >= 0:
                for _, other in pending:
                    other.cancel()
                return examined, result
        while pending:
            done, future = pending.popleft()
            result = future.result()
            examined += size(done)
            bar.update(size(done))
            if result[0] >= 0:
                for _, other in pending:
                    other.cancel()
                return examined, result
    return examined, None


def _mask_to_row(mask: int, n: int) -> tuple[int, ...]:
    return tuple((mask >> wire) & 1 for wire in range(n))


def _run_randomized(
    net: Network, check: zero_one.Check, samples: int, seed: int | None, progress: bool | None
) -> tuple[bool, int, tuple[int, ...] | None]:
    """Random 0-1 patterns (varied densities) then random permutations; not a proof."""
    n = net.n
    suffix = np.array(net.comparators, dtype=np.int64).reshape(-1, 2)
    words = math.ceil(samples / 64)
    chunks = [(w0, min(w0 + _CHUNK_WORDS, words)) for w0 in range(0, words, _CHUNK_WORDS)]
    seeds = np.random.SeedSequence(seed).spawn(len(chunks) + 1)
    blocks: dict[int, np.ndarray] = {}

    def run(index: int) -> tuple[int, int, int]:
        w0, w1 = chunks[index]
        block = _random_words(np.random.default_rng(seeds[index]), n, w1 - w0)
        original = block.copy()
        found, bits = zero_one.check_block(block, suffix, check)
        if found < 0:
            return -1, -1, 0
        blocks[index] = original[:, found]
        return index, found, bits

    def size(index: int) -> int:
        return (chunks[index][1] - chunks[index][0]) * 64

    examined, failure = _first_failure(iter(range(len(chunks))), run, size, words * 64, progress)
    if failure is not None:
        index, _, bits = failure
        bit = (bits & -bits).bit_length() - 1
        column = (blocks[index] >> np.uint64(bit)) & np.uint64(1)
        return False, examined, tuple(int(value) for value in column)
    rng = np.random.default_rng(seeds[-1])
    want = np.array([rank_position(net, position) for position in net.outputs])
    total = max(1, samples // 64)
    # In batches: samples // 64 rows of n int64 at once could exceed memory.
    for start in range(0, total, _PERMUTATION_ROWS):
        count = min(_PERMUTATION_ROWS, total - start)
        rows = rng.permuted(np.tile(np.arange(n), (count, 1)), axis=1)
        out = _run_rows(rows, net)
        bad = np.flatnonzero((out != want[None, :]).any(axis=1))
        if bad.size:
            return False, examined + start + int(bad[0]) + 1, tuple(int(v) for v in rows[bad[0]])
    return True, examined + total, None


def _run_rows(rows: np.ndarray, net: Network) -> np.ndarray:
    """The outputs of ``net`` on integer ``rows``, with exact min/max per comparator.

    A few lines of numpy rather than the circuit runtime: the IR's passes never import a
    runtime (ARCHITECTURE.md, "Import rules"), and permutations need no fast path.
    """
    columns = [rows[:, wire].copy() for wire in range(net.n)]
    for i, j in net.comparators:
        low, high = np.minimum(columns[i], columns[j]), np.maximum(columns[i], columns[j])
        columns[i], columns[j] = low, high
    return np.stack([columns[wire] for wire in net.output_wires], axis=1)


def _random_words(rng: np.random.Generator, n: int, words: int) -> np.ndarray:
    """Random bit-sliced patterns; densities vary per word (1/8 .. 7/8) to reach edge counts."""
    draws = rng.integers(
        0, np.iinfo(np.uint64).max, size=(3, n, words), dtype=np.uint64, endpoint=True
    )
    a, b, c = draws
    blends = [a & b & c, a & b, a & (b | c), a, a | (b & c), a | b, a | b | c]
    choice = np.arange(words) % len(blends)
    out = np.empty((n, words), dtype=np.uint64)
    for index, blend in enumerate(blends):
        out[:, choice == index] = blend[:, choice == index]
    return out

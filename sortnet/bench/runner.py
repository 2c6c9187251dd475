"""The benchmark loop: same data for every executor, warm-up, repeats, median and min.

For each ``n`` one batch is generated (float32 standard normal by default) and
``np.sort`` is timed on it; then every network on ``n`` wires runs through every
executor on that same batch. Each timed call of an executor is paired with a
timed ``np.sort`` call on the same batch just before it, and the ratio is the median
``np.sort`` time of those pairs over the executor's median (above 1 means faster than
``np.sort``): on a shared machine both sides of a ratio see the same load. Each
result also records the largest absolute difference from ``np.sort``'s output and
the peak memory of one call (see :func:`sortnet.bench.machine.peak_memory`).
"""

from __future__ import annotations

import gc
import os
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from sortnet.bench.executors import (
    REFERENCES,
    Runner,
    available,
    check_executors,
    prepare,
    reference,
)
from sortnet.bench.machine import machine_info, peak_memory, resident_mb
from sortnet.errors import SortnetError, TooMuchWorkError
from sortnet.network import Network
from sortnet.validate import MAX_WIRES

#: Most timed (or warm-up) calls per case: more is a typo, not a benchmark.
MAX_REPEATS = 1000

#: The columns of every result row (JSON objects and CSV header), in order.
COLUMNS = (
    "network",
    "kind",
    "n",
    "size",
    "depth",
    "executor",
    "rows",
    "dtype",
    "median_s",
    "min_s",
    "rows_per_s",
    "np_sort_s",
    "ratio_vs_np_sort",
    "max_abs_error",
    "exact",
    "peak_mb",
    "input_mb",
    "output_mb",
    "memory_method",
    "setup_s",
    "repeats",
    "note",
)


@dataclass
class BenchConfig:
    """What to run. ``networks`` maps a label to a network factory for a given n."""

    sizes: list[int] = field(default_factory=lambda: [4, 8, 16, 32, 64])
    executors: list[str] = field(default_factory=lambda: ["circuit", "neural", "onnxruntime"])
    rows: int = 1_000_000
    repeats: int = 5
    warmup: int = 1
    dtype: str = "float32"
    lowering: str | None = "relu"
    seed: int = 0
    memory: bool = True
    budget_s: float = 10.0

    def validate(self) -> None:
        """Refuse impossible settings with a message naming the setting.

        Examples
        --------
        >>> BenchConfig(sizes=[100_000]).validate()
        Traceback (most recent call last):
        ...
        sortnet.errors.SortnetError: --n values must be at most 65536 (sortnet's limit of wires), got [100000]
        """  # noqa: E501
        check_executors(self.executors)
        if self.rows < 1:
            raise SortnetError(f"--rows must be at least 1, got {self.rows}")
        if self.repeats < 1:
            raise SortnetError(f"--repeats must be at least 1, got {self.repeats}")
        if self.warmup < 0:
            raise SortnetError(f"--warmup must be 0 or more, got {self.warmup}")
        for name, value in (("--repeats", self.repeats), ("--warmup", self.warmup)):
            if value > MAX_REPEATS:
                raise SortnetError(f"{name} must be at most {MAX_REPEATS}, got {value}")
        bad = [n for n in self.sizes if n < 1]
        if bad:
            raise SortnetError(f"--n values must be at least 1, got {bad}")
        big = [n for n in self.sizes if n > MAX_WIRES]
        if big:
            raise SortnetError(
                f"--n values must be at most {MAX_WIRES} (sortnet's limit of wires), got {big}"
            )
        try:
            kind: str = np.dtype(self.dtype).kind
        except TypeError:
            kind = "?"
        if kind not in "fiu":
            raise SortnetError(f"--dtype must be a real numeric dtype, got {self.dtype!r}")
        if not 0 < self.budget_s < float("inf"):
            raise SortnetError(f"--budget must be a number of seconds > 0, got {self.budget_s}")
        if self.seed < 0:
            raise SortnetError(f"--seed must be 0 or more, got {self.seed}")


def batch_bytes(rows: int, n: int, dtype: str) -> int:
    """Peak bytes of the arrays a benchmark holds for one n.

    The input, ``np.sort``'s reference output, the executor's output and the paired
    ``np.sort`` call's output (four arrays of the batch dtype), or while drawing the
    batch the float64 draw and its cast copy, whichever is more. Executors' own
    working memory comes on top (the neural executor works in bounded row chunks).

    Examples
    --------
    >>> batch_bytes(1000, 16, "float32")
    256000
    """
    itemsize = np.dtype(dtype).itemsize
    return rows * n * max(4 * itemsize, 8 + itemsize)


def memory_limit() -> int:
    """Bytes a benchmark batch may take: half the machine's physical memory.

    Examples
    --------
    >>> memory_limit() > 0
    True
    """
    try:
        physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not POSIX: assume a small machine
        physical = 4 << 30
    return int(physical // 2)


def check_batch_memory(rows: int, sizes: Iterable[int], dtype: str, option: str = "--rows") -> None:
    """Refuse, before allocating, a batch larger than :func:`memory_limit`.

    Raises
    ------
    TooMuchWorkError
        Naming the batch, its size, the limit and the largest ``rows`` that fits.

    Examples
    --------
    >>> check_batch_memory(100_000, [100_000], "float32")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    sortnet.errors.TooMuchWorkError: a batch of 100000 rows x 100000 wires (float32) needs ...
    """
    limit = memory_limit()
    for n in sorted(set(sizes), reverse=True)[:1]:
        need = batch_bytes(rows, n, dtype)
        if need > limit:
            fits = limit // batch_bytes(1, n, dtype)
            raise TooMuchWorkError(
                f"a batch of {rows} rows x {n} wires ({dtype}) needs about {_size(need)} "
                f"(input, reference and outputs), more than the limit of {_size(limit)} "
                "(half of this machine's memory); "
                + (f"lower {option} to at most {fits}" if fits >= 1 else "use fewer wires (--n)"),
                estimate=need,
                limit=limit,
            )


def _size(count: int) -> str:
    """Bytes for a message: GiB from 1 GiB up, else MiB."""
    return f"{count / 2**30:.1f} GiB" if count >= 2**30 else f"{count / 2**20:.1f} MiB"


def make_batch(rows: int, n: int, dtype: str, seed: int) -> np.ndarray:
    """The benchmark batch: standard normal rows (integers 0..999 for integer dtypes).

    Examples
    --------
    >>> make_batch(2, 3, "float32", 0).shape
    (2, 3)
    """
    rng = np.random.default_rng(seed + n)
    if np.dtype(dtype).kind == "f":
        return rng.standard_normal((rows, n), dtype=np.float64).astype(dtype)
    return rng.integers(0, 1000, (rows, n)).astype(dtype)


def time_calls(
    run: Runner,
    X: np.ndarray,
    *,
    warmup: int,
    repeats: int,
    budget_s: float = float("inf"),
    paired: Runner | None = None,
    paired_times: list[float] | None = None,
) -> tuple[list[float], np.ndarray]:
    """Wall times of ``repeats`` calls after ``warmup`` untimed ones, and the last output.

    When a warm-up call takes longer than ``budget_s``, only one timed call follows
    (a slow executor would otherwise dominate the whole run). With ``paired``, each
    timed call is preceded by a timed call of ``paired`` (the reference), appended to
    ``paired_times``: on a shared machine both then see the same load.

    Examples
    --------
    >>> times, out = time_calls(lambda X: X + 1, np.zeros((2, 2)), warmup=1, repeats=3)
    >>> len(times), out.tolist()
    (3, [[1.0, 1.0], [1.0, 1.0]])
    """
    out = None
    for _ in range(warmup):
        start = time.perf_counter()
        out = run(X)
        del out
        if time.perf_counter() - start > budget_s:
            repeats = 1
            break
    times = []
    for _ in range(repeats):
        out = None
        gc.collect()
        if paired is not None and paired_times is not None:
            start = time.perf_counter()
            paired(X)
            paired_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        out = run(X)
        times.append(time.perf_counter() - start)
    assert out is not None
    return times, out


def _max_error(out: np.ndarray, expected: np.ndarray) -> float:
    if out.shape != expected.shape:
        return float("inf")
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(out.astype(np.float64) - expected.astype(np.float64))
    return float(np.nanmax(diff)) if diff.size else 0.0


def measure(
    label: str,
    net: Network | None,
    executor: str,
    run: Runner,
    X: np.ndarray,
    expected: np.ndarray | None,
    config: BenchConfig,
    *,
    setup_s: float = 0.0,
    note: str = "",
    baseline_mb: float | None = None,
) -> dict[str, Any]:
    """Time one executor on ``X`` and return one result row (see :data:`COLUMNS`).

    ``peak_mb`` is the resident memory at the peak of one more call, above
    ``baseline_mb`` (taken after set-up, before the first call; ``X`` resident).
    """
    reference_times: list[float] = []
    times, out = time_calls(
        run,
        X,
        warmup=config.warmup,
        repeats=config.repeats,
        budget_s=config.budget_s,
        paired=None if expected is None else reference("np.sort"),
        paired_times=reference_times,
    )
    reference_out = out if expected is None else expected
    error = _max_error(out, reference_out)
    exact = bool(out.shape == reference_out.shape and np.array_equal(out, reference_out))
    del out
    peak, method = (float("nan"), "off")
    if config.memory:
        peak, method = peak_memory(lambda: run(X), baseline_mb)
    median = statistics.median(times)
    paired_median = statistics.median(reference_times) if reference_times else median
    n = X.shape[1]
    return {
        "network": label,
        "kind": None if net is None else net.kind,
        "n": n,
        "size": None if net is None else net.size,
        "depth": None if net is None else net.depth,
        "executor": executor,
        "rows": X.shape[0],
        "dtype": str(X.dtype),
        "median_s": median,
        "min_s": min(times),
        "rows_per_s": X.shape[0] / median if median > 0 else float("inf"),
        "np_sort_s": paired_median,
        "ratio_vs_np_sort": paired_median / median if median > 0 else float("inf"),
        "max_abs_error": error,
        "exact": exact,
        "peak_mb": round(peak, 1),
        "input_mb": round(X.nbytes / 2**20, 1),
        "output_mb": round(X.shape[0] * n * X.itemsize / 2**20, 1),
        "memory_method": method,
        "setup_s": round(setup_s, 3),
        "repeats": len(times),
        "note": note,
    }


def run_benchmark(
    config: BenchConfig,
    networks: Callable[[int], Iterable[tuple[str, Network]]],
    *,
    on_result: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Run every network from ``networks(n)`` through every executor, for each n.

    Parameters
    ----------
    config : BenchConfig
    networks : callable
        ``networks(n)`` yields ``(label, network)`` pairs for ``n`` wires.
    on_result : callable, optional
        Called with each result row as soon as it is measured (progress, printing).

    Returns
    -------
    dict
        ``{"machine": ..., "config": ..., "results": [row, ...]}``.

    Examples
    --------
    >>> import sortnet
    >>> config = BenchConfig(sizes=[4], executors=["circuit"], rows=100, repeats=1, memory=False)
    >>> report = run_benchmark(config, lambda n: [("bubble", sortnet.network("bubble", n))])
    >>> [(row["executor"], row["exact"]) for row in report["results"]]
    [('np.sort', True), ('circuit', True)]
    """
    config.validate()
    check_batch_memory(config.rows, config.sizes, config.dtype)
    started = time.time()
    machine = machine_info()
    results: list[dict[str, Any]] = []

    def emit(row: dict[str, Any]) -> None:
        results.append(row)
        if on_result is not None:
            on_result(row)

    for n in config.sizes:
        X = make_batch(config.rows, n, config.dtype, config.seed)
        expected = np.sort(X, axis=1)
        base = measure(
            "np.sort",
            None,
            "np.sort",
            reference("np.sort"),
            X,
            None,
            config,
            baseline_mb=resident_mb() if config.memory else None,
        )
        emit(base)
        for name in REFERENCES[1:]:
            if available(name):
                row = measure(name, None, name, reference(name), X, expected, config)
                emit(row)
        for label, net in networks(n):
            for executor in config.executors:
                if not available(executor) or (executor == "circuit" and net.kind != "comparator"):
                    continue
                prepared = prepare(executor, net, lowering=config.lowering)
                # After set-up (compiling is not running) but before the first call, so
                # arenas and buffers an executor keeps between calls count.
                baseline = resident_mb() if config.memory else None
                row = measure(
                    label,
                    net,
                    executor,
                    prepared.run,
                    X,
                    expected,
                    config,
                    setup_s=prepared.setup_s,
                    note=prepared.note,
                    baseline_mb=baseline,
                )
                del prepared
                emit(row)
        del X, expected
    machine["load_average_after"] = machine_info()["load_average"]
    settings = asdict(config)
    settings["elapsed_s"] = round(time.time() - started, 1)
    return {"machine": machine, "config": settings, "results": results}

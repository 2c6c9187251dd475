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

import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from sortnet.bench.executors import (
    INDEX_EXECUTORS,
    REFERENCES,
    available,
    check_executors,
    prepare,
    reference,
)
from sortnet.bench.machine import machine_info, resident_mb
from sortnet.bench.timing import measure, time_calls  # noqa: F401  (re-exported)
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
    "first_call_s",
    "ready_s",
    "repeats",
    "note",
    "vjp_over_forward",
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
    #: Each case starts from a fresh kernel cache (new ``SORTNET_CACHE_DIR``, kernels in
    #: memory forgotten) and nothing is compiled before its first call: ``first_call_s``
    #: is then what a user's first call costs on a new machine.
    cold: bool = False

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


def batch_bytes(rows: int, n: int, dtype: str, *, indices: bool = False) -> int:
    """Peak bytes of the arrays a benchmark holds for one n.

    The input, ``np.sort``'s reference output, the executor's output and the paired
    ``np.sort`` call's output (four arrays of the batch dtype), plus, with ``indices``
    (the ``argsort`` executor runs), its reference and output (two ``intp`` arrays);
    or while drawing the batch the float64 draw and its cast copy, whichever is more.
    Executors' own working memory comes on top (the neural executor works in bounded
    row chunks).

    Examples
    --------
    >>> batch_bytes(1000, 16, "float32"), batch_bytes(1000, 16, "float32", indices=True)
    (256000, 512000)
    """
    itemsize = np.dtype(dtype).itemsize
    index_bytes = 2 * np.dtype(np.intp).itemsize if indices else 0
    return rows * n * max(4 * itemsize + index_bytes, 8 + itemsize)


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


def check_batch_memory(
    rows: int, sizes: Iterable[int], dtype: str, option: str = "--rows", *, indices: bool = False
) -> None:
    """Refuse, before allocating, a batch larger than :func:`memory_limit`.

    ``indices``: the ``argsort`` executor runs (see :func:`batch_bytes`).

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
        need = batch_bytes(rows, n, dtype, indices=indices)
        if need > limit:
            fits = limit // batch_bytes(1, n, dtype, indices=indices)
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
    [('np.sort', True), ('np.copyto', True), ('circuit', True)]
    >>> config.executors = ["argsort"]
    >>> report = run_benchmark(config, lambda n: [("bubble", sortnet.network("bubble", n))])
    >>> [(row["executor"], row["exact"]) for row in report["results"]][2]
    ('argsort', True)
    """
    config.validate()
    indices = any(name in INDEX_EXECUTORS for name in config.executors)
    check_batch_memory(config.rows, config.sizes, config.dtype, indices=indices)
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
                # The copy's output is X itself: compared with X, it is exact.
                want = X if name == "np.copyto" else expected
                row = measure(name, None, name, reference(name), X, want, config)
                emit(row)
        stable: np.ndarray | None = None  # np.argsort(X, kind="stable"), once per n
        for label, net in networks(n):
            for executor in config.executors:
                circuit_only = executor in ("circuit", *INDEX_EXECUTORS)
                if not available(executor) or (circuit_only and net.kind != "comparator"):
                    continue
                want = expected
                if executor in INDEX_EXECUTORS:
                    if stable is None:
                        stable = np.argsort(X, axis=1, kind="stable")
                    want = stable
                with fresh_kernel_cache(config.cold):
                    row = _case(label, net, executor, X, want, config)
                emit(row)
        del X, expected, stable
    machine["load_average_after"] = machine_info()["load_average"]
    settings = asdict(config)
    settings["elapsed_s"] = round(time.time() - started, 1)
    return {"machine": machine, "config": settings, "results": results}


@contextlib.contextmanager
def fresh_kernel_cache(cold: bool = True) -> Iterator[None]:
    """With ``cold``, run the body on an empty kernel cache, then restore the old one.

    ``SORTNET_CACHE_DIR`` points at a new temporary folder (deleted after) and every
    runtime's in-memory kernels are forgotten before and after, so nothing compiled
    earlier, in this process or on disk, serves the body. Without ``cold``, nothing
    changes.

    Examples
    --------
    >>> from sortnet import _jit
    >>> before = _jit.cache_dir()
    >>> with fresh_kernel_cache():
    ...     _jit.cache_dir() != before
    True
    >>> _jit.cache_dir() == before
    True
    """
    if not cold:
        yield
        return
    from sortnet import _jit

    old = os.environ.get(_jit.ENV_CACHE_DIR)
    with tempfile.TemporaryDirectory(prefix="sortnet-cold-") as folder:
        os.environ[_jit.ENV_CACHE_DIR] = folder
        _jit.clear_cache()
        try:
            yield
        finally:
            _jit.clear_cache()
            if old is None:
                os.environ.pop(_jit.ENV_CACHE_DIR, None)
            else:
                os.environ[_jit.ENV_CACHE_DIR] = old


def _case(
    label: str,
    net: Network,
    executor: str,
    X: np.ndarray,
    expected: np.ndarray,
    config: BenchConfig,
) -> dict[str, Any]:
    """Set up one executor on one network and measure it (one result row)."""
    prepared = prepare(executor, net, lowering=config.lowering, precompile=not config.cold)
    # After set-up (compiling is not running) but before the first call, so
    # arenas and buffers an executor keeps between calls count.
    baseline = resident_mb() if config.memory else None
    row = measure(
        label,
        net,
        executor,
        prepared.run,
        X,
        X if executor == "vjp" else expected,  # dX = J.T np.sort(X) = X; argsort: indices
        config,
        setup_s=prepared.setup_s,
        note=prepared.note,
        baseline_mb=baseline,
    )
    if prepared.forward is not None:  # side by side: each forward call paired with a vjp call
        backward: list[float] = []
        forward, _ = time_calls(
            prepared.forward,
            X,
            warmup=config.warmup,
            repeats=config.repeats,
            paired=prepared.run,
            paired_times=backward,
        )
        ratio = statistics.median(backward) / statistics.median(forward)
        row["vjp_over_forward"] = ratio
        row["note"] += (
            f"; vjp / forward = {ratio:.2f}x "
            f"(forward median {statistics.median(forward) * 1e3:.1f} ms, paired calls)"
        )
    return row

"""One benchmark case: warm-up and timed calls, the first call, errors and peak memory.

Memory is measured on one more call after the timed ones, with nothing of the
earlier calls alive: every output (the executor's and the paired ``np.sort``'s) is
dropped before :func:`sortnet.bench.machine.peak_memory` resets the high-water mark,
so a peak counts one call's memory, as a fresh process would see it. (An earlier
version kept the last timed output alive through the memory call, so ``np.sort``,
whose output is its own reference, showed twice its output: 1221 MB instead of 611 MB
at 10M x 16 float32.)
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from sortnet.bench.executors import Runner, reference
from sortnet.bench.machine import peak_memory
from sortnet.network import Network

if TYPE_CHECKING:
    from sortnet.bench.runner import BenchConfig


def time_calls(
    run: Runner,
    X: np.ndarray,
    *,
    warmup: int,
    repeats: int,
    budget_s: float = float("inf"),
    paired: Runner | None = None,
    paired_times: list[float] | None = None,
    first: list[float] | None = None,
    settle: Callable[[], float] | None = None,
) -> tuple[list[float], np.ndarray]:
    """Wall times of ``repeats`` calls after ``warmup`` untimed ones, and the last output.

    When a warm-up call takes longer than ``budget_s``, only one timed call follows
    (a slow executor would otherwise dominate the whole run). With ``paired``, each
    timed call is preceded by a timed call of ``paired`` (the reference), appended to
    ``paired_times``: on a shared machine both then see the same load. ``first``
    receives the time of the very first call (a warm-up call, or the first timed one).
    ``settle`` runs right after the first warm-up call (a kernel that call started
    compiling in the background is then ready before anything else is timed).

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
        elapsed = time.perf_counter() - start
        del out
        if first is not None and not first:
            first.append(elapsed)
            if settle is not None:
                settle()
        if elapsed > budget_s:
            repeats = 1
            break
    times = []
    out = None
    for _ in range(repeats):
        out = None  # the previous output is not alive during the next call
        gc.collect()
        if paired is not None and paired_times is not None:
            start = time.perf_counter()
            paired(X)
            paired_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        out = run(X)
        times.append(time.perf_counter() - start)
    if first is not None and not first:
        first.append(times[0])
    assert out is not None
    return times, out


def _max_error(out: np.ndarray, expected: np.ndarray) -> float:
    if out.shape != expected.shape:
        return float("inf")
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(out.astype(np.float64) - expected.astype(np.float64))
    return float(np.nanmax(diff)) if diff.size else 0.0


def compare(out: np.ndarray, expected: np.ndarray | None) -> tuple[float, bool]:
    """Largest absolute difference from ``expected`` and whether ``out`` equals it.

    ``expected`` None means ``out`` is the reference itself (error 0, exact).

    Examples
    --------
    >>> compare(np.array([[1.0, 2.5]]), np.array([[1.0, 2.0]]))
    (0.5, False)
    """
    if expected is None:
        return 0.0, True
    exact = bool(out.shape == expected.shape and np.array_equal(out, expected))
    return _max_error(out, expected), exact


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
    """Time one executor on ``X`` and return one result row (see ``runner.COLUMNS``).

    ``peak_mb`` is the resident memory at the peak of one more call, above
    ``baseline_mb`` (taken after set-up, before the first call; ``X`` resident),
    with no earlier output alive (see the module notes). ``first_call_s`` is the
    time of the first call, compilation included when nothing was compiled before;
    ``ready_s`` how long a kernel that call started compiling in the background then
    took to be ready (0 when none was).
    """
    reference_times: list[float] = []
    first: list[float] = []
    ready: list[float] = []

    def settle() -> float:
        # A first call may start a faster kernel compiling in the background (large
        # batches, n above 10 or 16); warm figures are those of the kernel a user has
        # from then on, and ready_s says how long that took.
        from sortnet import _jit

        start = time.perf_counter()
        waited = _jit.background_pending()
        _jit.wait_for_background()
        ready.append(time.perf_counter() - start if waited else 0.0)
        return ready[-1]

    times, out = time_calls(
        run,
        X,
        warmup=config.warmup,
        repeats=config.repeats,
        budget_s=config.budget_s,
        paired=None if expected is None else reference("np.sort"),
        paired_times=reference_times,
        first=first,
        settle=settle,
    )
    error, exact = compare(out, expected)
    output_bytes = out.nbytes  # argsort: intp indices, not the batch dtype
    del out  # the only reference to the last output: it is freed before the memory call
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
        "output_mb": round(output_bytes / 2**20, 1),
        "memory_method": method,
        "setup_s": round(setup_s, 3),
        "first_call_s": round(first[0], 4),
        "ready_s": round(ready[0], 3) if ready else 0.0,
        "repeats": len(times),
        "note": note,
        "vjp_over_forward": None,  # set for the vjp executor (sortnet.bench.runner)
    }

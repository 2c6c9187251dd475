"""Split a batch's rows over threads for a serial kernel that releases the GIL.

The generic kernels, numba's (:mod:`sortnet.circuit.interpreter`) and the precompiled
C ones (:mod:`sortnet.circuit.native`), run on one thread each; this module gives each
thread one contiguous range of whole blocks, on one shared pool.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import TypeVar

#: Rows per thread below which the caller's thread does all the work.
MIN_ROWS_PER_THREAD = 1 << 14
#: Values (rows x columns) per thread below which fewer threads run: handing a range to
#: the pool costs about 0.1 ms, so at n <= 4 one thread won up to 100,000 float32 rows
#: (n = 2: 0.07 against 0.21 ms) while two won from 1,000,000 rows (0.51 against 0.97 ms).
MIN_VALUES_PER_THREAD = 1 << 18

_pool: list[ThreadPoolExecutor] = []
_pool_lock = threading.Lock()


def _forget_pool_in_child() -> None:
    # A forked child has none of the pool's threads: work handed to the inherited pool
    # would never run, and the caller would wait forever (seen: a fork Pool whose
    # workers call sortnet.sort after the parent did). The child starts a pool of its own.
    global _pool_lock
    _pool_lock = threading.Lock()
    _pool.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_in_child)

Result = TypeVar("Result")


def cpu_threads() -> int:
    """The CPUs this process may use, at most 8.

    Examples
    --------
    >>> 1 <= cpu_threads() <= 8
    True
    """
    try:
        count = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        count = os.cpu_count() or 1
    return max(1, min(8, count))


def _executor() -> ThreadPoolExecutor:
    with _pool_lock:
        if not _pool:
            pool = ThreadPoolExecutor(max_workers=cpu_threads(), thread_name_prefix="sortnet")
            _pool.append(pool)
        return _pool[0]


def ranges(
    rows: int, threads: int | None, block: int = 64, width: int = 1 << 18
) -> list[tuple[int, int]]:
    """Contiguous ``(start, stop)`` ranges of whole ``block``-row blocks, one per thread.

    ``threads`` None means :func:`cpu_threads`; fewer ranges are made when a thread
    would get under :data:`MIN_ROWS_PER_THREAD` rows or :data:`MIN_VALUES_PER_THREAD`
    values (rows of ``width`` values).

    Examples
    --------
    >>> ranges(100_000, 2)
    [(0, 50048), (50048, 100000)]
    >>> ranges(1000, 2), ranges(100_000, 2, width=2)
    ([(0, 1000)], [(0, 100000)])
    """
    count = cpu_threads() if threads is None else threads
    count = min(count, rows // MIN_ROWS_PER_THREAD, rows * width // MIN_VALUES_PER_THREAD)
    count = max(1, count)
    if count == 1:
        return [(0, rows)]
    step = -(-rows // count)
    step += -step % block  # whole blocks, so tile transposes cover every range
    return [(start, min(start + step, rows)) for start in range(0, rows, step)]


def run_ranges(
    work: Callable[[int, int], Result], rows: int, threads: int | None, width: int = 1 << 18
) -> list[Result]:
    """``work(start, stop)`` for each range of :func:`ranges`, the first on this thread.

    Examples
    --------
    >>> run_ranges(lambda a, b: b - a, 100_000, 2)
    [50048, 49952]
    """
    bounds = ranges(rows, threads, width=width)
    if len(bounds) == 1:
        return [work(*bounds[0])]
    pool = _executor()
    futures = [pool.submit(work, a, b) for a, b in bounds[1:]]
    try:
        first = work(*bounds[0])
    finally:  # never return (or raise) while another thread still writes the output
        wait(futures)
    return [first] + [future.result() for future in futures]

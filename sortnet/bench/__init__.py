"""Batch sorting benchmarks: executors against ``np.sort`` on the same data.

:func:`run_benchmark` runs networks x n x executors in memory (:mod:`.runner`);
:func:`run_dask_benchmark` sorts a lazily generated batch with the dask engine
(:mod:`.dask_run`); :mod:`.report` writes tables, JSON, CSV and plots;
:mod:`.machine` records what it ran on. The command is ``sortnet bench``.
"""

from __future__ import annotations

from sortnet.bench.dask_run import run_dask_benchmark
from sortnet.bench.machine import machine_info, peak_memory
from sortnet.bench.report import plot, to_csv, to_json
from sortnet.bench.runner import COLUMNS, BenchConfig, run_benchmark

__all__ = [
    "COLUMNS",
    "BenchConfig",
    "machine_info",
    "peak_memory",
    "plot",
    "run_benchmark",
    "run_dask_benchmark",
    "to_csv",
    "to_json",
]

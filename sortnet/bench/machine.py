"""What a benchmark ran on: CPU, cores, load, library versions, BLAS; and peak memory."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib.metadata
import io
import os
import platform
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

PROC_STATUS = Path("/proc/self/status")
PROC_CLEAR_REFS = Path("/proc/self/clear_refs")

#: Optional packages whose versions are recorded when installed.
LIBRARIES = ("numpy", "numba", "onnxruntime", "dask", "distributed", "scipy", "torch")


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), or what platform says.

    Examples
    --------
    >>> isinstance(cpu_model(), str)
    True
    """
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _cpu_flags() -> list[str]:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("flags"):
                flags = line.split(":", 1)[1].split()
                return sorted(f for f in flags if f.startswith(("avx", "sse4_2", "fma")))
    return []


def blas_info() -> dict[str, Any]:
    """numpy's BLAS (name, version) and, when threadpoolctl is installed, its live pools.

    Examples
    --------
    >>> "numpy_blas" in blas_info()
    True
    """
    info: dict[str, Any] = {"numpy_blas": None}
    try:
        config = np.show_config(mode="dicts")  # type: ignore[call-arg]
        blas = config.get("Build Dependencies", {}).get("blas", {})
        info["numpy_blas"] = {key: blas.get(key) for key in ("name", "version")}
    except (TypeError, ValueError):  # numpy < 1.25 prints instead
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            np.show_config()
        info["numpy_blas"] = {"config": buffer.getvalue()[:2000]}
    try:
        from threadpoolctl import threadpool_info

        info["threadpools"] = [
            {
                key: pool.get(key)
                for key in ("internal_api", "version", "num_threads", "architecture")
            }
            for pool in threadpool_info()
        ]
    except ImportError:
        info["threadpools"] = "threadpoolctl not installed"
    info["env"] = {
        name: os.environ[name]
        for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS")
        if name in os.environ
    }
    return info


def machine_info() -> dict[str, Any]:
    """CPU, cores, memory, load average, Python and library versions, BLAS.

    Examples
    --------
    >>> info = machine_info()
    >>> sorted(info)[:4]
    ['blas', 'cores', 'cpu', 'cpu_flags']
    """
    versions = {}
    for name in LIBRARIES:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[name] = importlib.metadata.version(name)
    memory = None
    with contextlib.suppress(OSError, AttributeError, ValueError):
        memory = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    load = None
    with contextlib.suppress(OSError, AttributeError):
        load = [round(value, 2) for value in os.getloadavg()]
    return {
        "cpu": cpu_model(),
        "cpu_flags": _cpu_flags(),
        "cores": os.cpu_count(),
        "memory_gib": memory,
        "load_average": load,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
        "blas": blas_info(),
    }


def _status_mb(field: str) -> float:
    match = re.search(rf"^{field}:\s+(\d+) kB", PROC_STATUS.read_text(), re.MULTILINE)
    if match is None:
        raise OSError(f"{field} not in {PROC_STATUS}")
    return int(match.group(1)) / 1024


def _trim() -> None:
    """Collect garbage and hand freed heap pages back to the OS (glibc), so that a
    later allocation shows up in the resident set instead of silently reusing them."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def resident_mb() -> float | None:
    """The resident set (MB) after trimming freed memory, or None off Linux.

    Examples
    --------
    >>> value = resident_mb()
    >>> value is None or value > 0
    True
    """
    _trim()
    try:
        return _status_mb("VmRSS")
    except OSError:
        return None


def peak_memory(call: Callable[[], Any], baseline_mb: float | None = None) -> tuple[float, str]:
    """Run ``call()`` once; return (MB in use at its peak above a baseline, method used).

    On Linux the kernel's resident-set high-water mark is reset first
    (``/proc/self/clear_refs``) and read after (``VmHWM``), so every allocation
    counts, numba's, onnxruntime's and numpy's, including the result. The baseline
    is ``baseline_mb`` (take it with :func:`resident_mb` before an executor's first
    call, so that arenas it keeps between calls count) or the resident set just
    before the call. Elsewhere tracemalloc counts the allocations numpy and Python report.

    Examples
    --------
    >>> mb, method = peak_memory(lambda: np.ones(2**22))  # 32 MB
    >>> method in ("vmhwm", "tracemalloc"), mb > 30
    (True, True)
    """
    try:
        before = resident_mb() if baseline_mb is None else baseline_mb
        _trim()  # memory freed by earlier calls must not hide in the high-water mark
        PROC_CLEAR_REFS.write_text("5")
        if before is None:
            raise OSError("no /proc")
        call()
        return max(0.0, _status_mb("VmHWM") - before), "vmhwm"
    except OSError:
        import tracemalloc

        tracemalloc.start()
        try:
            call()
            return tracemalloc.get_traced_memory()[1] / 2**20, "tracemalloc"
        finally:
            tracemalloc.stop()

"""Per-thread BLAS threading control, so executor threads do not oversubscribe cores.

The executor runs chunks on its own threads; each should call BLAS single-threaded
(a multi-threaded BLAS inside each of them spins against the others, and small
matrix products are slower threaded anyway). OpenBLAS >= 0.3.27 has
``openblas_set_num_threads_local``, which sets the count for the calling thread
only; we find it in the loaded OpenBLAS (numpy's wheels bundle one). Where it is
not available this is a no-op and BLAS keeps its own threading.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable
from functools import lru_cache


@lru_cache(maxsize=1)
def _setter() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    import numpy  # noqa: F401  - make sure numpy's BLAS is loaded

    try:
        with open("/proc/self/maps") as maps:
            paths = sorted({line.split()[-1] for line in maps if "openblas" in line.lower()})
    except OSError:
        return None
    for path in paths:
        try:
            library = ctypes.CDLL(path)
            function = library.openblas_set_num_threads_local
        except (OSError, AttributeError):
            continue
        function.argtypes, function.restype = [ctypes.c_int], ctypes.c_int
        return function  # type: ignore[no-any-return]
    return None


def set_thread_local_blas_threads(count: int) -> bool:
    """Limit BLAS to ``count`` threads for calls from the current thread; True if possible."""
    setter = _setter()
    if setter is None:
        return False
    setter(count)
    return True

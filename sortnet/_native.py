"""Load a precompiled kernel library (an optional C extension) through ctypes.

Both runtimes may ship kernels written in C and built when sortnet is installed
(``[[tool.setuptools.ext-modules]]`` in ``pyproject.toml``, ``optional = true``: an
install without a C compiler still succeeds). Such a module is reached through
:mod:`ctypes`, whose calls release the GIL, rather than through the CPython API: its
functions take plain pointers and sizes. Each library exports ``sortnet_abi()``, the
version of its interface; a build of another version (a stale build beside newer
Python code) is not used.

This module imports nothing of sortnet but :mod:`sortnet.errors` (ARCHITECTURE.md,
"Import rules").
"""

from __future__ import annotations

import ctypes
import importlib.util
import os

__all__ = ["ENV_DISABLE", "load_library"]

#: Set to 1 to ignore every precompiled library (the numba and numpy paths run).
ENV_DISABLE = "SORTNET_NO_NATIVE"


def load_library(module: str, abi: int) -> ctypes.CDLL | None:
    """The extension ``module`` loaded with ctypes, or None when absent, disabled or stale.

    Examples
    --------
    >>> load_library("sortnet.no_such_module", 1) is None
    True
    """
    if os.environ.get(ENV_DISABLE, "").strip() not in ("", "0"):
        return None
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None or not spec.origin.endswith((".so", ".pyd", ".dylib")):
        return None
    try:
        library = ctypes.CDLL(spec.origin)
        library.sortnet_abi.restype = ctypes.c_int64
        if library.sortnet_abi() != abi:
            return None
    except (OSError, AttributeError):
        return None
    return library

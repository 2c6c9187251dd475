"""The generic kernels at run time: load once per dtype, split rows over threads.

:mod:`sortnet.circuit.generic` holds two numba functions that run any comparator
schedule given as arrays. They are compiled once per dtype and kind (about a
second) and cached on disk in :func:`sortnet._jit.cache_dir` beside the
straight-line kernels, so the first call on any network costs at most a cache load,
not a compilation per network. The functions are serial and release the GIL; rows
are split into one contiguous range per thread by :mod:`sortnet.circuit.rows` (numba's
own thread pool is not used, which keeps its slow ``parallel=True`` compilation out
of the way).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from sortnet._jit import KernelCache, cache_dir, compile_cached, import_generated
from sortnet.circuit.rows import run_ranges
from sortnet.network import Network

#: The generic kernels' file; its text is copied into the cache directory and imported.
SOURCE = Path(__file__).with_name("generic.py")
_modules: dict[str, Any] = {}
CACHE = KernelCache("circuit-generic", also_clear=[_modules])


def _stem() -> str:
    return "sortnet_generic_" + hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:16]


def _module(fresh: bool = False) -> Any:
    """The generic kernels' module, imported from the current cache directory."""
    where = str(cache_dir())
    module = None if fresh else _modules.get(where)
    if module is None:
        module = import_generated(SOURCE.read_text(), _stem())
        _modules[where] = module
    return module


def _marker(kind: str, dtype: np.dtype) -> Path:
    return cache_dir() / f"{_stem()}.{kind}.{dtype.name}.ready"


def lanes(n: int, itemsize: int) -> int:
    """Rows per vector tile transpose for ``n`` wires (16, 8, 4, or 0 for none).

    Examples
    --------
    >>> lanes(16, 4), lanes(24, 4), lanes(8, 8), lanes(4, 4), lanes(5, 4)
    (16, 8, 8, 4, 0)
    """
    if itemsize > 8:
        return 0
    for width in (16, 8, 4):
        if width * itemsize <= 64 and n % width == 0:
            return width
    return 0


def function(kind: str, dtype: Any) -> Any:
    """The compiled generic function of ``kind`` for C-contiguous ``dtype`` arrays.

    Examples
    --------
    >>> sort_rows = function("sort", np.int64)
    >>> X = np.array([[3, 1, 2]]); Y = np.empty_like(X)
    >>> pairs = np.array([[0, 1], [1, 2], [0, 1]]); wires = np.arange(3)
    >>> sort_rows(X, Y, pairs, wires, 0, True); Y
    array([[1, 2, 3]])
    """
    dtype = np.dtype(dtype)
    key = (kind, dtype.str, str(cache_dir()))
    with CACHE.lock:
        found = CACHE.lookup(key)
        if found is not None:
            return found
        name = "argsort_rows" if kind == "argsort" else "sort_rows"
        out = np.dtype(np.intp) if kind == "argsort" else dtype
        args: tuple[Any, ...] = (np.zeros((1, 2), dtype), np.zeros((1, 2), out))
        args += (np.zeros((1, 2), np.intp), np.arange(2, dtype=np.intp))
        if kind != "argsort":
            args += (0, True)
        found = compile_cached(_stem(), lambda fresh: getattr(_module(fresh), name), *args)
        CACHE.store(key, found)
        with contextlib.suppress(OSError):  # a read-only cache costs the marker only
            _marker(kind, dtype).touch()
    return found


def ready(kind: str, dtype: Any) -> bool:
    """Whether the generic kernel of ``kind`` for ``dtype`` is compiled (here or on disk).

    Examples
    --------
    >>> _ = function("sort", np.int64); ready("sort", np.int64)
    True
    """
    dtype = np.dtype(dtype)
    if (kind, dtype.str, str(cache_dir())) in CACHE:
        return True
    return _marker(kind, dtype).exists()


def run(
    X: np.ndarray, Y: np.ndarray, net: Network, kind: str = "sort", threads: int | None = None
) -> None:
    """Fill ``Y`` from ``X`` (both C-contiguous) with the generic kernel of ``net``.

    ``threads`` (default: the CPUs this process may use, at most 8) splits the rows
    into that many contiguous ranges; 1 runs on the calling thread.

    Examples
    --------
    >>> net = Network.from_comparators(3, [(0, 1), (1, 2), (0, 1)])
    >>> X = np.array([[3.0, -1.0, 2.0]]); Y = np.empty_like(X)
    >>> run(X, Y, net); Y
    array([[-1.,  2.,  3.]])
    """
    kernel = function(kind, X.dtype)
    pairs, wires = _schedule(tuple(net.comparators), tuple(net.output_wires))
    if kind == "argsort":
        extra: tuple[Any, ...] = ()
    else:
        identity = tuple(net.output_wires) == tuple(range(net.n))
        extra = (lanes(net.n, X.dtype.itemsize), identity)

    def work(start: int, stop: int) -> None:
        kernel(X[start:stop], Y[start:stop], pairs, wires, *extra)

    run_ranges(work, X.shape[0], threads, width=X.shape[1])


@functools.lru_cache(maxsize=64)
def _schedule(
    comparators: tuple[tuple[int, int], ...], outputs: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """The arrays a generic kernel reads: comparators ``(m, 2)`` and output wires."""
    pairs = np.array(comparators, dtype=np.intp).reshape(-1, 2)
    return np.ascontiguousarray(pairs), np.array(outputs, dtype=np.intp)

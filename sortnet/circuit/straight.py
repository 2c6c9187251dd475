"""Straight-line circuit kernels: generated per network, compiled, cached, threaded.

:func:`get_kernel` writes a network's kernel module (:mod:`sortnet.circuit.codegen`),
has numba compile it (or load it from its disk cache) once per ``(kind, layout, n,
comparators, outputs, dtype)``, and returns it, by default wrapped to split the rows
over threads. :func:`specialized_ready` says whether that has happened already, here or
on an earlier run (a marker file per dtype), without compiling anything: which kernel
``sortnet.sort`` runs is decided in :mod:`sortnet.circuit.kernels`, which re-exports
both functions.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from sortnet._jit import (
    Kernel,
    KernelCache,
    cache_dir,
    compile_cached,
    import_generated,
    numba_available,
)
from sortnet.circuit.codegen import kernel_source, layout_for
from sortnet.circuit.rows import run_ranges
from sortnet.errors import SortnetError
from sortnet.network import Network

__all__ = ["CACHE", "KERNEL_DTYPES", "get_kernel", "module_key", "specialized_ready"]

#: numba compiles these dtypes; others (float16, byte-swapped) take the numpy path.
KERNEL_DTYPES = frozenset(
    np.dtype(code) for code in ("f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8")
)

_modules: dict[tuple[Any, ...], Any] = {}
#: The row-splitting wrapper of each compiled kernel (one object per kernel).
_threaded: dict[tuple[Any, ...], Kernel] = {}
#: Compiled kernels by (module key, dtype).
CACHE = KernelCache("circuit", also_clear=[_modules, _threaded])
_lock = CACHE.lock


def _source_path(source: str) -> Path:
    digest = hashlib.sha256(source.encode()).hexdigest()[:20]
    return cache_dir() / f"sortnet_kernel_{digest}.py"


def module_key(net: Network, kind: str, layout: str | None, itemsize: int) -> tuple[Any, ...]:
    """The cache key of ``net``'s kernel module (without the dtype)."""
    layout = "rows" if kind == "argsort" else (layout or layout_for(net, itemsize))
    # Only the tiles layout depends on the value size (its tile width).
    size = itemsize if layout == "tiles" else 0
    return (kind, layout, size, net.n, tuple(net.comparators), tuple(net.output_wires))


def _load_module(
    net: Network, kind: str, layout: str | None, itemsize: int, *, fresh: bool = False
) -> Any:
    """Write (once) and import the generated module of ``net``; cached in memory.

    ``fresh`` imports it again (new dispatchers, which read numba's disk cache anew).
    """
    key = module_key(net, kind, layout, itemsize)
    module = None if fresh else _modules.get(key)
    if module is not None:
        return module
    source = kernel_source(net, kind, key[1], itemsize)
    module = import_generated(source, _source_path(source).stem)
    _modules[key] = module
    return module


_stems: dict[tuple[Any, ...], str] = {}


def _marker(stem: str, dtype: np.dtype) -> Path:
    """The file saying the kernel of module ``stem`` was compiled for ``dtype`` here.

    numba's index holds every dtype of a module in one file; this marker tells,
    without unpickling it, whether a call in ``dtype`` would load or compile.
    """
    return cache_dir() / f"{stem}.kernel.{dtype.name}.ready"


def _disk_cached(net: Network, kind: str, itemsize: int, dtype: np.dtype) -> bool:
    """Whether ``net``'s kernel for ``dtype`` was compiled on this machine."""
    key = module_key(net, kind, None, itemsize)
    stem = _stems.get(key)
    if stem is None:  # generating the source takes milliseconds at n = 64: once
        stem = _stems[key] = _source_path(kernel_source(net, kind, None, itemsize)).stem
    return _marker(stem, dtype).exists()


def get_kernel(
    net: Network,
    dtype: Any,
    *,
    kind: str = "sort",
    parallel: bool = True,
    layout: str | None = None,
) -> Kernel:
    """The compiled kernel ``kernel(X, Y)`` of ``net`` for ``dtype`` (cached).

    The cache key is ``(kind, layout, n, comparators, outputs, dtype)``: two
    networks with the same comparators share one kernel whatever their names.
    Compilation happens here, once per key (and is reused from disk across runs).

    Parameters
    ----------
    net : Network
        A comparator network.
    dtype : numpy dtype
        One of :data:`KERNEL_DTYPES`.
    kind : {"sort", "argsort"}
        An argsort kernel above ``sortnet.circuit.kernels.STRAIGHT_ARGSORT_MAX_N``
        wires is slower than the generic and C kernels, so ``sortnet.argsort`` does
        not run it.
    parallel : bool
        Split rows over all cores (default), or run on the calling thread only.
    layout : {"tiles", "rows", "columns"}, optional
        Default :func:`layout_for` ``(net, dtype.itemsize)``.

    Returns
    -------
    callable
        ``kernel(X, Y)`` fills ``Y`` (shape ``(batch, len(net.outputs))``, dtype
        ``dtype`` for sort, ``intp`` for argsort) from ``X`` of shape ``(batch, n)``.

    Examples
    --------
    >>> net = Network.from_comparators(3, [(0, 1), (1, 2), (0, 1)])
    >>> X = np.array([[3.0, -1.0, 2.0]])
    >>> Y = np.empty_like(X)
    >>> get_kernel(net, X.dtype)(X, Y)
    >>> Y
    array([[-1.,  2.,  3.]])
    """
    dtype = np.dtype(dtype)
    if dtype not in KERNEL_DTYPES:
        raise SortnetError(f"no compiled kernel for dtype {dtype}; the numpy executor handles it")
    if not numba_available():
        raise SortnetError("compiled kernels need numba (pip install numba)")
    key = (*module_key(net, kind, layout, dtype.itemsize), dtype.str)

    def load(fresh: bool) -> Kernel:
        module = _load_module(net, kind, layout, dtype.itemsize, fresh=fresh)
        return module.kernel  # type: ignore[no-any-return]

    with _lock:
        function = CACHE.lookup(key)
        if function is None:
            out_dtype = np.dtype(np.intp) if kind == "argsort" else dtype
            # Compile now (or load from disk) for C-contiguous arrays, the common case
            # (other layouts compile on first call); a damaged disk cache entry is
            # discarded and rebuilt, with a warning.
            source = kernel_source(net, kind, key[1], dtype.itemsize)
            stem = _source_path(source).stem
            function = compile_cached(
                stem,
                load,
                np.zeros((1, net.n), dtype),
                np.zeros((1, len(net.outputs)), out_dtype),
            )
            CACHE.store(key, function)
            with contextlib.suppress(OSError):  # a read-only cache costs the marker only
                _marker(stem, dtype).touch()
    if parallel:
        return _threaded.setdefault(key, functools.partial(_on_threads, function))
    return function  # type: ignore[no-any-return]


def specialized_ready(net: Network, dtype: Any, kind: str = "sort") -> bool:
    """Whether ``net``'s straight-line kernel for ``dtype`` is compiled (here or on disk).

    Examples
    --------
    >>> specialized_ready(Network.from_comparators(2, [(0, 1)]), np.int16)
    False
    """
    dtype = np.dtype(dtype)
    key = (*module_key(net, kind, None, dtype.itemsize), dtype.str)
    return key in CACHE or _disk_cached(net, kind, dtype.itemsize, dtype)


def _on_threads(kernel: Kernel, X: np.ndarray, Y: np.ndarray) -> None:
    """``kernel(X, Y)`` with the rows split into one contiguous range per thread."""

    def work(start: int, stop: int) -> None:
        kernel(X[start:stop], Y[start:stop])

    run_ranges(work, X.shape[0], None, width=X.shape[1])

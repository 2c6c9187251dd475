"""Compiled rank-filter kernels (numba), one per window, rank, form and dtype, cached.

The source comes from :mod:`sortnet.circuit.filter_codegen`; it is written to the
kernel cache directory and imported through the JIT layer (:mod:`sortnet._jit`), so a
kernel is compiled once per machine (a few seconds) and loaded from disk afterwards.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from sortnet._jit import KernelCache, compile_cached, import_generated, numba_available, on_disk
from sortnet.circuit.filter_codegen import kernel_source
from sortnet.errors import SortnetError

__all__ = ["FORMS", "KERNEL_DTYPES", "filter_into", "get_kernel", "is_compiled"]

#: numba compiles these dtypes; others (float16, byte-swapped) take the numpy path.
KERNEL_DTYPES = frozenset(
    np.dtype(code) for code in ("f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8")
)
FORMS = ("shared", "direct")

_modules: dict[tuple[int, int, int, str], Any] = {}
CACHE = KernelCache("filter", also_clear=[_modules])


def _stem(height: int, width: int, position: int, form: str) -> str:
    source, _ = kernel_source(height, width, position, form)
    return "sortnet_filter_" + hashlib.sha256(source.encode()).hexdigest()[:20]


def _module(height: int, width: int, position: int, form: str, fresh: bool) -> Any:
    key = (height, width, position, form)
    if fresh or key not in _modules:
        source, _ = kernel_source(height, width, position, form)
        _modules[key] = import_generated(source, _stem(height, width, position, form))
    return _modules[key]


def is_compiled(dtype: np.dtype, height: int, width: int, position: int) -> bool:
    """Whether the default kernel is compiled here or cached on disk (no compile needed).

    Examples
    --------
    >>> is_compiled(np.dtype(np.float32), 1, 1, 0)
    False
    """
    if (height, width, position, "shared", dtype.str) in CACHE:
        return True
    if height * width == 1:
        return False
    return on_disk(_stem(height, width, position, "shared"))


def get_kernel(
    dtype: np.dtype, height: int, width: int, position: int, form: str = "shared"
) -> Any:
    """The compiled ``kernel(X, rows, cols, F, Y)`` for a window, 0-based rank, form, dtype.

    See :func:`sortnet.circuit.filter_codegen.kernel_source` for the arguments.

    Examples
    --------
    >>> kernel = get_kernel(np.dtype(np.int64), 1, 3, 1)
    >>> Y = np.empty((1, 3), np.int64)
    >>> cols = np.array([-1, 0, 1, 2, -1])  # constant mode: -1 is F[0]
    >>> kernel(np.array([[5, 1, 3]]), np.array([0]), cols, np.array([9]), Y); Y
    array([[5, 3, 3]])
    """
    if not numba_available():
        raise SortnetError("compiled kernels need numba (pip install numba)")
    if form not in FORMS:
        raise SortnetError(f"unknown filter kernel form {form!r}; choose shared or direct")
    key = (height, width, position, form, dtype.str)
    with CACHE.lock:
        kernel = CACHE.lookup(key)
        if kernel is None:
            kernel = compile_cached(
                _stem(height, width, position, form),
                lambda fresh: _module(height, width, position, form, fresh).kernel,
                np.zeros((1, 1), dtype),
                np.zeros(height, np.int64),
                np.zeros(width, np.int64),
                np.zeros(1, dtype),
                np.zeros((1, 1), dtype),
            )
            CACHE.store(key, kernel)
    return kernel


def filter_into(
    image: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    fill: Any,
    out: np.ndarray,
    height: int,
    width: int,
    position: int,
    form: str = "shared",
) -> None:
    """Fill ``out`` from the 2-D ``image`` extended by the maps ``rows``, ``cols``.

    ``rows`` has ``len(out) + height - 1`` entries, ``cols`` ``W + width - 1`` (see
    :func:`sortnet.circuit.filters.pad_indices`); ``-1`` reads ``fill``. Only the image
    rows named in ``rows`` are read (a read-only or strided image is copied first,
    those rows only).
    """
    if not (image.flags.c_contiguous and image.flags.writeable):
        # numba compiles read-only and strided arrays as other types: copy the rows used.
        used = np.unique(rows[rows >= 0])
        image = np.ascontiguousarray(image[used])
        rows = np.where(rows >= 0, np.searchsorted(used, rows), -1)
    kernel = get_kernel(image.dtype, height, width, position, form)
    constant = np.zeros(1, image.dtype) if fill is None else np.asarray(fill, image.dtype)[None]
    target = out if out.flags.c_contiguous else np.empty(out.shape, out.dtype)
    kernel(image, rows.astype(np.int64), cols.astype(np.int64), constant, target)
    if target is not out:
        out[...] = target

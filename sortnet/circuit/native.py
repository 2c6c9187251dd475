"""The precompiled C kernels: any comparator schedule, no JIT compilation.

``sortnet/circuit/_native.c`` is built when sortnet is installed (an optional
extension: without a C compiler the install still succeeds, and the numba or numpy
paths run). It holds, for each kernel dtype, a sort and a stable argsort kernel that
read the comparators as an array, like the numba generic kernel
(:mod:`sortnet.circuit.generic`), with copies specialised for n = 2..16, 24 and 32
(the block transposes then become vector shuffles) and one copy per instruction set
(AVX-512, AVX2, baseline x86-64), chosen when the library loads. The library is
loaded with :mod:`ctypes`, whose calls release the GIL, and rows are split over
threads by :mod:`sortnet.circuit.rows`.

Because nothing is compiled at run time, the first call on a new machine costs a
library load (milliseconds), which is why ``sortnet.sort`` prefers these kernels.

Argsort of 4-byte keys (float32, int32, uint32) on at most 256 wires runs the
**byte-index kernels** of ``_argsort_bytes.c`` instead where the CPU has AVX-512BW
(:func:`kernel_name`): one byte of index per row and wire, min/max on the keys, one
byte blend per comparator for the indices. Same output as the general kernel; on 1M
float32 rows into a new array, 1.07-1.16x faster at n = 16 to 64 (best networks).

The float kernels also find NaN while loading each block (no separate pass over the
input): :func:`run` raises :class:`~sortnet.errors.InputError` naming the first row
that holds one.
"""

from __future__ import annotations

import ctypes
import functools
from typing import Any

import numpy as np

from sortnet._native import load_library
from sortnet.circuit.rows import run_ranges
from sortnet.errors import InputError, SortnetError
from sortnet.network import Network

#: The library's interface version; a build of another version is not used.
ABI = 2

#: Dtypes with a byte-index argsort kernel (``_argsort_bytes.c``: 4-byte keys, at most
#: :data:`BYTES_MAX_N` wires, CPUs with AVX-512BW), which :func:`run` prefers.
BYTES_SUFFIXES = ("f4", "i4", "u4")
#: Wires a byte-index kernel handles: an index is one byte.
BYTES_MAX_N = 256

#: The dtypes with kernels, by the suffix of their functions' names.
SUFFIXES = {
    np.dtype(code): code for code in ("f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8")
}

_I64 = ctypes.c_int64
_PTR = ctypes.c_void_p


@functools.lru_cache(maxsize=1)
def library() -> ctypes.CDLL | None:
    """The loaded kernel library, or None when it was not built (or is another version).

    ``SORTNET_NO_NATIVE=1`` in the environment (read once per process) ignores it.

    Examples
    --------
    >>> library() is None or library().sortnet_abi() == ABI
    True
    """
    lib = load_library("sortnet.circuit._native", ABI)
    if lib is None:
        return None
    for kind in ("sort", "argsort"):
        for suffix in SUFFIXES.values():
            function = getattr(lib, f"sortnet_{kind}_{suffix}")
            function.restype = _I64
            function.argtypes = [_PTR, _PTR, _I64, _I64, _PTR, _I64, _PTR, _I64]
    for suffix in BYTES_SUFFIXES:
        function = getattr(lib, f"sortnet_argsort_bytes_{suffix}")
        function.restype = _I64
        function.argtypes = [_PTR, _PTR, _I64, _I64, _PTR, _I64, _PTR, _I64]
    lib.sortnet_bytes_supported.restype = _I64
    return lib


def bytes_kernels() -> bool:
    """Whether the byte-index argsort kernels run here (built, and the CPU has AVX-512BW).

    Examples
    --------
    >>> isinstance(bytes_kernels(), bool)
    True
    """
    lib = library()
    return lib is not None and bool(lib.sortnet_bytes_supported())


def kernel_name(kind: str, dtype: Any, n: int, *, general: bool = False) -> str:
    """The library function :func:`run` calls for ``kind`` on ``dtype`` rows of ``n`` wires.

    ``general`` asks for the general kernel even where a byte-index argsort kernel
    would run (tests compare the two).

    Examples
    --------
    >>> kernel_name("sort", np.float32, 16)
    'sortnet_sort_f4'
    >>> kernel_name("argsort", np.float64, 16)
    'sortnet_argsort_f8'
    """
    suffix = SUFFIXES[np.dtype(dtype)]
    bytes_ok = suffix in BYTES_SUFFIXES and n <= BYTES_MAX_N and not general
    if kind == "argsort" and bytes_ok and bytes_kernels():
        return f"sortnet_argsort_bytes_{suffix}"
    return f"sortnet_{kind}_{suffix}"


def available() -> bool:
    """Whether the precompiled kernels were built and load.

    Examples
    --------
    >>> isinstance(available(), bool)
    True
    """
    return library() is not None


def supports(dtype: Any) -> bool:
    """Whether a precompiled kernel handles ``dtype`` (native byte order only).

    Examples
    --------
    >>> supports(np.float16), supports(np.dtype(">f8"))
    (False, False)
    """
    return available() and np.dtype(dtype) in SUFFIXES


def run(
    X: np.ndarray,
    Y: np.ndarray,
    net: Network,
    kind: str = "sort",
    threads: int | None = None,
    *,
    general: bool = False,
) -> None:
    """Fill ``Y`` from ``X`` (both C-contiguous) with ``net``'s outputs (``kind`` sort/argsort).

    ``threads`` (default: the CPUs this process may use, at most 8) splits the rows
    into that many contiguous ranges; 1 runs on the calling thread. ``Y`` has
    ``len(net.outputs)`` columns, of ``X``'s dtype for sort and ``intp`` for argsort.
    Argsort runs the byte-index kernel where one applies (:func:`kernel_name`) unless
    ``general``; both give the same output.

    Raises
    ------
    InputError
        When ``X`` holds NaN (naming the first row that does); ``Y`` is then undefined.

    Examples
    --------
    >>> net = Network.from_comparators(3, [(0, 1), (1, 2), (0, 1)])
    >>> X = np.array([[3.0, -1.0, 2.0]]); Y = np.empty_like(X)
    >>> if available(): run(X, Y, net)
    ... else: Y[:] = np.sort(X)
    >>> Y
    array([[-1.,  2.,  3.]])
    """
    lib = library()
    if lib is None:
        raise SortnetError("the precompiled kernels were not built (no C compiler at install)")
    if X.dtype not in SUFFIXES:
        raise SortnetError(f"no precompiled kernel for dtype {X.dtype} (see supports())")
    if not (X.flags.c_contiguous and Y.flags.c_contiguous and Y.flags.writeable):
        raise SortnetError("the precompiled kernels need C-contiguous arrays")
    out_dtype = np.dtype(np.intp) if kind == "argsort" else X.dtype
    if Y.dtype != out_dtype or Y.shape != (X.shape[0], len(net.outputs)):
        raise SortnetError(f"output must be {out_dtype} of shape {(X.shape[0], len(net.outputs))}")
    if not X.flags.aligned:  # e.g. a view at an odd byte offset: the C code assumes alignment
        X = X.copy()
    function = getattr(lib, kernel_name(kind, X.dtype, X.shape[1], general=general))
    pairs, outputs = _schedule(tuple(net.comparators), tuple(net.output_wires))
    n, width = X.shape[1], Y.shape[1]
    x_base, y_base = X.ctypes.data, Y.ctypes.data
    x_row, y_row = n * X.itemsize, width * Y.itemsize

    def work(start: int, stop: int) -> tuple[int, int]:
        code = function(
            x_base + start * x_row,
            y_base + start * y_row,
            stop - start,
            n,
            pairs.ctypes.data,
            len(pairs),
            outputs.ctypes.data,
            len(outputs),
        )
        return start, int(code)

    results = run_ranges(work, X.shape[0], threads, width=n)
    if any(code == -2 for _, code in results):
        raise MemoryError("the precompiled kernel could not allocate its block buffer")
    refused = [code for _, code in results if code < -2]  # a kernel this build lacks: a bug
    if refused:
        raise SortnetError(f"the precompiled kernel refused the call (code {refused[0]})")
    nan_rows = [start + code for start, code in results if code >= 0]
    if nan_rows:
        raise InputError(f"X contains NaN at row {min(nan_rows)}")


@functools.lru_cache(maxsize=64)
def _schedule(
    comparators: tuple[tuple[int, int], ...], outputs: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """The arrays a kernel reads: comparators ``(m, 2)`` and output wires (int64)."""
    pairs = np.array(comparators, dtype=np.int64).reshape(-1, 2)
    return np.ascontiguousarray(pairs), np.array(outputs, dtype=np.int64)

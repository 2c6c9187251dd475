"""Which compiled kernel runs a comparator network, and the straight-line kernels (numba).

Three kinds of kernel, all exact:

* the **precompiled C kernels** (:mod:`sortnet.circuit.native`): the comparators are
  data, the machine code was built when sortnet was installed, so nothing is compiled
  at run time. ``sortnet.sort`` runs them by default when they were built
  (:func:`native_runs`).
* the numba **generic kernel** (:mod:`sortnet.circuit.generic`, run by
  :mod:`sortnet.circuit.interpreter`): the comparators are data (an ``(m, 2)`` array),
  so one compilation per dtype and kind (about a second, once per machine: cached on
  disk) serves every network. It runs where the C kernels were not built.
* **straight-line kernels**, compiled per network on request (:func:`get_kernel`), or
  in the background after a large batch ran on the C kernel (:func:`straight_line_pays`):
  the whole network emitted as LLVM IR with no loop inside a row, one compare and two
  selects per comparator, in a serial row loop that releases the GIL (rows are split
  over threads here). Three layouts (:mod:`sortnet.circuit.codegen`): ``tiles``,
  ``rows``, ``columns``. One compiles in 0.3 to 4.5 s for n <= 64 (2.8-3.1 s for
  bubble n = 64, 1.2-1.4 s for the best network there); once compiled (in this process, or on
  disk: a marker file per dtype records it) ``sortnet.sort`` runs it instead of the
  generic kernel (argsort: up to :data:`STRAIGHT_ARGSORT_MAX_N`, above which the
  generic kernel was faster), and instead of the C sort kernel where it was faster
  (:func:`native_runs`; never instead of the C argsort kernels, faster at every n).

Exactness: every comparator swaps its two values exactly when the second is
smaller (see :mod:`sortnet.circuit.intrinsics`), so each output row is a permutation of
the input row's bit patterns and equals ``np.sort`` element for element
(``np.array_equal``). ``-0.0`` and ``0.0`` compare equal, so, as in ``np.sort``,
their relative order among ties is unspecified; no sign is lost.

Which back end runs is decided by :func:`sortnet._jit.choose_backend` (the JIT layer
both runtimes share): ``SORTNET_KERNEL`` is ``auto`` (default: the C kernels when
built), ``numba`` (always a numba kernel) or ``numpy`` (never a kernel; the
column-wise numpy executor of :mod:`sortnet.circuit.run` runs). Without the C kernels,
in ``auto`` mode, a numba kernel already compiled (here or on disk) is always used;
otherwise the generic kernel is compiled for batches of at
least ``AUTO_MIN_ELEMENTS`` values or :data:`AUTO_MIN_WORK` row-comparator pairs, and
smaller batches take the numpy path.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sortnet._jit import (
    AUTO_MIN_ELEMENTS,
    BACKENDS,
    cache_dir,
    choose_backend,
    in_background,
    numba_available,
    requested_backend,
)
from sortnet.circuit import interpreter, native
from sortnet.circuit.codegen import (
    BLOCK_ROWS,
    CODEGEN_VERSION,
    ROWS_MAX_N,
    TILES_MAX_N,
    kernel_source,
    layout_for,
    tile_lanes,
)
from sortnet.circuit.straight import (
    CACHE,
    KERNEL_DTYPES,
    get_kernel,
    module_key,
    specialized_ready,
)
from sortnet.network import Network

__all__ = [
    "AUTO_MIN_ELEMENTS",
    "BACKENDS",
    "BLOCK_ROWS",
    "CODEGEN_VERSION",
    "KERNEL_DTYPES",
    "ROWS_MAX_N",
    "TILES_MAX_N",
    "argsort_into",
    "cache_dir",
    "cache_info",
    "choose_backend",
    "clear_cache",
    "get_kernel",
    "kernel_source",
    "layout_for",
    "native_runs",
    "numba_available",
    "sort_into",
    "tile_lanes",
    "use_kernel",
]

#: In ``auto`` mode the generic kernel is also compiled for batches of at least this many
#: row-comparator pairs: the numpy path would take 30 ms or more (10-100x the kernel).
AUTO_MIN_WORK = 1 << 24

#: Up to this n (and for 8-byte values above :data:`NATIVE_FIRST_WIDE_ABOVE_N`) the
#: precompiled C kernel runs even where a straight-line kernel was compiled: measured
#: faster or equal there (1M rows, best networks, same run, load 0.7-0.8; float32 C
#: against straight-line ms: n = 4 0.7 / 0.7, 9 2.7 / 3.0, 10 3.1 / 3.7, 11 5.6 / 3.8,
#: 16 7.6 / 2.6, 32 14.4 / 12.1, 64 42.9 / 28.9; float64: n = 32 22.8 / 21.5, 64 54.5 /
#: 65.1; an AMD EPYC Zen 5). On an Intel Xeon (Sapphire Rapids class) the C kernel was
#: the faster one up to n = 16 (1M float32 rows into a new array, load about 1.1: n = 12
#: 10.4 / 13.5, 16 11.8 / 16.3, 24 26.4 / 22.5, 64 78.0 / 75.8): the best bound depends
#: on the CPU's memory more than on n, and this fixed one is the AMD machine's.
NATIVE_FIRST_MAX_N = 10
NATIVE_FIRST_WIDE_ABOVE_N = 32

#: Argsort always runs the C kernel when it is built, even where a straight-line kernel
#: was compiled: n -> (C ms, straight-line ms), 1M float32 rows with ties, best networks,
#: load 0.71-0.77 (the straight-line argsort kernels carry an index per value through
#: every compare-exchange, row by row; the C kernel keeps them in a block beside the values).
ARGSORT_NATIVE_TIMES = {4: (1.3, 2.7), 8: (2.5, 8.4), 16: (8.6, 26.6), 32: (22.5, 65.6)}

#: Without the C kernel, a straight-line argsort kernel compiled on request runs only up
#: to this n: above it the numba generic kernel was faster. n -> (generic ms,
#: straight-line ms), same run as :data:`ARGSORT_NATIVE_TIMES`.
STRAIGHT_ARGSORT_MAX_N = 4
ARGSORT_GENERIC_TIMES = {
    4: (3.3, 2.7),
    8: (5.9, 8.4),
    16: (12.2, 26.6),
    24: (23.7, 54.0),
    32: (30.3, 65.6),
    48: (62.0, 243.2),
}


def use_kernel(
    X: np.ndarray, net: Network, *, kind: str = "sort", backend: str | None = None
) -> bool:
    """Whether the compiled kernel should run ``net`` on ``X`` (see the module notes).

    Examples
    --------
    >>> net = Network.from_comparators(2, [(0, 1)])
    >>> use_kernel(np.zeros((4, 2)), net, backend="numpy")
    False
    """
    if net.kind != "comparator":
        return False
    if native_runs(X, net, kind=kind, backend=backend):
        return True
    chosen = choose_backend(backend)
    if chosen == "numpy" or X.dtype not in KERNEL_DTYPES:
        return False
    if chosen == "numba":
        return True
    flags = getattr(X, "flags", None)  # a dask array has none; its chunks are made contiguous
    if flags is not None and not flags.c_contiguous:
        # The kernel would need a C-contiguous copy of the whole batch (sort_into makes
        # one when the kernel is forced); the numpy path needs one block at a time.
        return False
    if X.size >= AUTO_MIN_ELEMENTS or X.shape[0] * net.size >= AUTO_MIN_WORK:
        return True  # the generic kernel compiles once per dtype (about a second)
    if flags is not None and not flags.writeable:
        # numba compiles read-only arrays as another type: a cached kernel does not cover
        # them, and a small batch is not worth that compilation.
        return False
    return specialized_ready(net, X.dtype, kind) or interpreter.ready(kind, X.dtype)


def native_runs(
    X: np.ndarray, net: Network, *, kind: str = "sort", backend: str | None = None
) -> bool:
    """Whether :func:`sort_into` runs the precompiled C kernel (:mod:`~sortnet.circuit.native`).

    It does in ``auto`` mode, for its dtypes, unless ``kind`` is ``"sort"``, ``n`` is
    above :data:`NATIVE_FIRST_MAX_N` (for 8-byte values: at most
    :data:`NATIVE_FIRST_WIDE_ABOVE_N`) and ``net``'s straight-line kernel was compiled
    (argsort: always, see :data:`ARGSORT_NATIVE_TIMES`). The C kernel also finds NaN
    (:func:`sort_into` raises), so a caller that checks NaN only when this is False
    passes the answer on to :func:`sort_into` (``native_call=``): a straight-line
    kernel finishing its background compile in between must not take that call.

    Examples
    --------
    >>> net = Network.from_comparators(2, [(0, 1)])
    >>> native_runs(np.zeros((4, 2)), net, backend="numpy")
    False
    """
    return _native_for(X.dtype, net, kind, backend)


def _native_for(dtype: Any, net: Network, kind: str, backend: str | None) -> bool:
    if requested_backend(backend) != "auto" or not native.supports(dtype):
        return False
    if net.kind != "comparator":
        return False
    if kind == "argsort":  # C was faster at every n measured (ARGSORT_NATIVE_TIMES)
        return True
    return _native_first(net, dtype) or not specialized_ready(net, dtype, kind)


def _native_first(net: Network, dtype: Any) -> bool:
    """Whether the C sort kernel was at least as fast as a straight-line kernel."""
    wide = np.dtype(dtype).itemsize >= 8 and net.n > NATIVE_FIRST_WIDE_ABOVE_N
    return net.n <= NATIVE_FIRST_MAX_N or wide


def straight_line_pays(X: np.ndarray, net: Network, kind: str = "sort") -> bool:
    """Whether sorting ``X`` on the C kernel should start ``net``'s straight-line kernel compiling.

    In the background, while the C kernel runs: for sort where the straight-line kernel
    was faster (:data:`NATIVE_FIRST_MAX_N`), a batch of at least
    :data:`AUTO_MIN_ELEMENTS` values, numba installed, ``$SORTNET_KERNEL`` ``auto``.
    It compiles in 0.3 to 1.4 s for the best, bitonic and odd-even merge networks up to
    n = 64 (at most 4.5 s for any network there) and is then 1.2-2.9x faster.

    Examples
    --------
    >>> net = Network.from_comparators(2, [(0, 1)])
    >>> straight_line_pays(np.zeros((10, 2)), net)
    False
    """
    return (
        kind == "sort"
        and net.kind == "comparator"
        and not _native_first(net, X.dtype)
        and X.dtype in KERNEL_DTYPES
        and X.size >= AUTO_MIN_ELEMENTS
        and requested_backend(None) == "auto"
        and numba_available()
    )


def sort_into(
    X: np.ndarray,
    net: Network,
    out: np.ndarray,
    *,
    backend: str | None = None,
    parallel: bool = True,
    kind: str = "sort",
    native_call: bool | None = None,
) -> bool:
    """Run the compiled kernel of ``net`` from ``X`` into ``out`` if it should run.

    ``X`` must already be checked (shape ``(batch, n)``; no NaN unless ``native_call``
    is True, the answer of :func:`native_runs` the caller checked NaN by). Returns
    False, leaving ``out`` untouched, when :func:`use_kernel` says the numpy path
    should run.

    Examples
    --------
    >>> net = Network.from_comparators(2, [(0, 1)])
    >>> X = np.array([[2, 1], [0, 5]]); out = np.empty_like(X)
    >>> sort_into(X, net, out, backend="numba"), out.tolist()
    (True, [[1, 2], [0, 5]])
    """
    if native_call is None:
        native_call = native_runs(X, net, kind=kind, backend=backend)
    if not native_call and not use_kernel(X, net, kind=kind, backend=backend):
        return False
    # The kernels are compiled for C-contiguous arrays (the tile transposes load rows
    # as vectors and have no other form): copy a Fortran-ordered or strided batch.
    X = np.ascontiguousarray(X)
    target = out if out.flags.c_contiguous else np.empty(out.shape, out.dtype)
    if native_call:  # precompiled: no JIT at all
        native.run(X, target, net, kind, threads=None if parallel else 1)
        if straight_line_pays(X, net, kind):
            # Faster once ready; started after this call so that no call waits for it.
            dtype = X.dtype
            key = ("circuit", *module_key(net, kind, None, dtype.itemsize), dtype.str)
            in_background(key, lambda: get_kernel(net, dtype, kind=kind))
    elif specialized_ready(net, X.dtype, kind) and (
        kind == "sort" or net.n <= STRAIGHT_ARGSORT_MAX_N
    ):  # compiled on request earlier, and faster than the generic kernel
        get_kernel(net, X.dtype, kind=kind, parallel=parallel)(X, target)
    else:  # the generic kernel: compiled once per dtype, shared by every network
        interpreter.run(X, target, net, kind, threads=None if parallel else 1)
    if target is not out:
        out[...] = target
    return True


def argsort_into(
    X: np.ndarray,
    net: Network,
    out: np.ndarray,
    *,
    backend: str | None = None,
    parallel: bool = True,
    native_call: bool | None = None,
) -> bool:
    """Like :func:`sort_into` for the stable argsort kernel (``out`` of dtype ``intp``).

    Examples
    --------
    >>> net = Network.from_comparators(2, [(0, 1)])
    >>> X = np.array([[2, 1], [3, 3]]); out = np.empty(X.shape, np.intp)
    >>> argsort_into(X, net, out, backend="numba"), out.tolist()
    (True, [[1, 0], [0, 1]])
    """
    return sort_into(
        X, net, out, backend=backend, parallel=parallel, kind="argsort", native_call=native_call
    )


def warm_up(net: Network, dtype: Any, *, kind: str = "sort") -> None:
    """Compile (or load from disk) the kernel ``sortnet.sort(X, net)`` runs on ``dtype``.

    That is nothing for the precompiled C kernels; else the numba generic kernel (one
    per dtype, for every network) unless ``net``'s straight-line kernel was compiled on
    request (:func:`get_kernel`).

    Examples
    --------
    >>> warm_up(Network.from_comparators(2, [(0, 1)]), np.float64)
    """
    if not specialized_ready(net, dtype, kind) and not _native_for(dtype, net, kind, None):
        interpreter.function(kind, dtype)


def describe(net: Network, dtype: Any, kind: str = "sort") -> str:
    """A short description of the kernel ``sortnet.sort`` (or ``argsort``) runs on ``dtype``.

    Examples
    --------
    >>> describe(Network.from_comparators(5, [(0, 4), (1, 3)]), np.float16)
    'numpy column-wise executor'
    """
    dtype = np.dtype(dtype)
    if _native_for(dtype, net, kind, None):
        if "bytes" in native.kernel_name(kind, dtype, net.n):
            return "precompiled C byte-index argsort kernel (schedule as data)"
        return "precompiled C kernel (schedule as data)"
    straight_runs = kind == "sort" or net.n <= STRAIGHT_ARGSORT_MAX_N  # as in sort_into
    if straight_runs and specialized_ready(net, dtype, kind):
        return f"numba straight-line kernel, {layout_for(net, dtype.itemsize)} layout"
    if dtype not in KERNEL_DTYPES or choose_backend() == "numpy":
        return "numpy column-wise executor"
    return "numba generic kernel (schedule as data)"


#: This runtime's straight-line kernel counters (the JIT layer has all runtimes' counters).
cache_info = CACHE.info


def clear_cache() -> None:
    """Forget this runtime's kernels in memory, straight-line and generic (disk stays).

    Examples
    --------
    >>> clear_cache(); cache_info()["kernels"]
    0
    """
    CACHE.clear()
    interpreter.CACHE.clear()

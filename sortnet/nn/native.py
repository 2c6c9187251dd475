"""The precompiled C model kernel: any compiled model, no JIT compilation.

``sortnet/nn/_native.c`` is built when sortnet is installed (an optional extension:
without a C compiler the install still succeeds, and the numba or numpy engines run).
It runs the sparse program of :mod:`sortnet.nn.program`, like the numba generic
kernel (:mod:`sortnet.nn.generic`), with the same sums in the same order, so its
outputs are bit for bit the generic kernel's (softplus calls the C library's ``exp``
and ``log1p``, which may differ from numba's in the last place). Where the CPU has
FMA, a block whose inputs are all 0 or at least
:func:`~sortnet.nn.exact_products.fused_threshold` in magnitude adds each product
with one fused multiply-add: there every product is exact, so the result is the
same bits as a multiply and an add (1.2x faster for the relu model at n = 32). A unit's
block of accumulators stays in vector registers while its terms are added, which
makes it several times faster than the generic kernel. One copy per instruction set
(AVX-512, AVX2, baseline x86-64) is chosen when the library loads; the library is
loaded with :mod:`ctypes`, whose calls release the GIL, so the executor's chunk
threads run it in parallel.

The executor (:mod:`sortnet.nn.executor`) runs it in ``auto`` mode whenever it is
built and the model's activations have codes (:func:`runs`); ``SORTNET_KERNEL=numba``
or ``numpy`` (or ``engine=``) choose those engines instead, and
``SORTNET_NO_NATIVE=1`` ignores the library.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from sortnet._jit import numba_available, requested_backend
from sortnet._native import load_library
from sortnet.errors import SortnetError
from sortnet.nn import kernels as model_kernels
from sortnet.nn.exact_products import fused_threshold
from sortnet.nn.program import CODES, program, supported

if TYPE_CHECKING:
    from sortnet.nn.model import CompiledModel

#: The library's interface version; a build of another version is not used.
ABI = 2

#: Flag in a unit's code: the next unit is this one with every weight negated.
NEGATED_NEXT = 16
#: Flag in a unit's code: a negated pair of relu units without bias (the kernel's
#: branch-free case).
RELU_PAIR = 32

#: Up to this n the C kernel runs even where the straight-line numba kernel was compiled,
#: and no straight-line kernel is compiled in the background (:func:`straight_line_pays`).
#: Above it the straight-line kernel, emitted as one block of LLVM IR per model, was
#: faster (relu, 1M float32 rows, load 0.7-1.0, C against straight-line ms: best n = 24
#: 35.2 / 22.6, n = 32 49.6 / 30.3; bitonic 32 57.9 / 47.4; odd-even merge 32 55.2 /
#: 32.8, 48 92.6 / 71.4) and compiled in 1.5-3.7 s at n = 24 and 32, 6-12 s at 48.
NATIVE_FIRST_MAX_N = 16

#: The dtypes with a kernel, by the suffix of its function's name.
SUFFIXES = {np.dtype(np.float32): "f4", np.dtype(np.float64): "f8"}

_I64 = ctypes.c_int64
_PTR = ctypes.c_void_p
_LIMIT = {"f4": ctypes.c_float, "f8": ctypes.c_double}

#: ``kernel(X, Y, limit=inf)``: -1, or the first row of ``X`` with NaN or ``|x| > limit``.
NativeKernel = Callable[..., int]


@functools.lru_cache(maxsize=1)
def library() -> ctypes.CDLL | None:
    """The loaded kernel library, or None when it was not built (or is another version).

    ``SORTNET_NO_NATIVE=1`` in the environment (read once per process) ignores it.

    Examples
    --------
    >>> library() is None or library().sortnet_abi() == ABI
    True
    """
    lib = load_library("sortnet.nn._native", ABI)
    if lib is None:
        return None
    lib.sortnet_model_fma.restype = _I64
    for suffix in SUFFIXES.values():
        function = getattr(lib, f"sortnet_model_{suffix}")
        function.restype = _I64
        function.argtypes = [_PTR, _PTR, _I64, _I64, _I64, _PTR, _I64]
        function.argtypes += [_PTR, _PTR, _PTR, _PTR, _PTR, _I64, _LIMIT[suffix], _LIMIT[suffix]]
    return lib


def fuses() -> bool:
    """Whether the kernel chosen on this CPU adds products with fused multiply-adds.

    Without FMA (a CPU below x86-64-v3, or a build without per-CPU copies) both copies
    of its units multiply, then add; the results are the same bits either way.

    Examples
    --------
    >>> fuses() in (True, False)
    True
    """
    lib = library()
    return lib is not None and bool(lib.sortnet_model_fma())


def available() -> bool:
    """Whether the precompiled model kernel was built and loads.

    Examples
    --------
    >>> isinstance(available(), bool)
    True
    """
    return library() is not None


def supports(model: CompiledModel, dtype: Any) -> bool:
    """Whether the precompiled kernel runs ``model`` in ``dtype`` (float32, float64).

    Examples
    --------
    >>> import compilers, sortnet
    >>> model = compilers.compile(sortnet.network("bitonic", 4), "relu")
    >>> supports(model, np.float16)
    False
    >>> supports(model, np.float32) == available()
    True
    """
    return available() and np.dtype(dtype) in SUFFIXES and supported(model)


def straight_line_pays(model: CompiledModel, batch: np.ndarray) -> bool:
    """Whether running ``batch`` should start ``model``'s straight-line kernel compiling.

    In the background, while this kernel runs: for ``model.n`` above
    :data:`NATIVE_FIRST_MAX_N`, a batch of at least
    :data:`sortnet._jit.AUTO_MIN_ELEMENTS` values (a small one-off run is not worth a
    core for seconds), with numba installed and a model it compiles; ``$SORTNET_KERNEL``
    other than ``auto`` never.

    Examples
    --------
    >>> import compilers, sortnet
    >>> model = compilers.compile(sortnet.network("bitonic", 32), "relu")
    >>> straight_line_pays(model, np.zeros((10, 32)))
    False
    """
    from sortnet._jit import AUTO_MIN_ELEMENTS

    return (
        model.n > NATIVE_FIRST_MAX_N
        and batch.size >= AUTO_MIN_ELEMENTS
        and requested_backend(None) == "auto"
        and numba_available()
        and model_kernels.compilable(model)
    )


def runs(model: CompiledModel, dtype: Any, engine: str | None = None) -> bool:
    """Whether ``model(X)`` in ``dtype`` runs the precompiled kernel.

    It does in ``auto`` mode (``engine`` None reads ``$SORTNET_KERNEL``) whenever
    :func:`supports` says so, unless ``model.n`` is above :data:`NATIVE_FIRST_MAX_N`
    and the model's own straight-line numba kernel is compiled already (here or on
    disk): that one is faster there (its values stay in registers from unit to unit).
    ``"numba"`` and ``"numpy"`` ask for those engines.

    Examples
    --------
    >>> import compilers, sortnet
    >>> model = compilers.compile(sortnet.network("bitonic", 4), "relu")
    >>> runs(model, np.float64, "numpy")
    False
    """
    if requested_backend(engine) != "auto" or not supports(model, dtype):
        return False
    return model.n <= NATIVE_FIRST_MAX_N or not (
        numba_available()
        and model_kernels.compilable(model)
        and model_kernels.is_compiled(model, dtype)
    )


def kernel(model: CompiledModel, dtype: Any) -> NativeKernel:
    """``kernel(X, Y, limit=inf)``: fill ``Y`` with ``model``'s outputs on the rows of ``X``.

    ``X`` and ``Y`` must be C-contiguous arrays of ``dtype`` with ``model.n`` and
    ``model.n_outputs`` columns; the kernel runs on the calling thread (releasing
    the GIL). It checks the values as it loads them: it returns -1, or the first
    row of ``X`` holding NaN or a value outside ``[-limit, limit]``, which the
    executor then refuses (``Y`` is undefined from that row's block on).

    Examples
    --------
    >>> import compilers, sortnet
    >>> model = compilers.compile(sortnet.network("bitonic", 4), "relu")
    >>> X = np.array([[3.0, -1.0, 2.0, 0.0]]); Y = np.empty_like(X)
    >>> if available(): code = kernel(model, X.dtype)(X, Y)
    ... else: Y[:] = np.sort(X); code = -1
    >>> Y, code
    (array([[-1.,  0.,  2.,  3.]]), -1)
    >>> kernel(model, X.dtype)(X, Y, limit=2.5) if available() else 0
    0
    """
    lib = library()
    dtype = np.dtype(dtype)
    if lib is None:
        raise SortnetError("the precompiled model kernel was not built (no C compiler at install)")
    if not supports(model, dtype):
        raise SortnetError(f"no precompiled model kernel for {dtype} or for this model's units")
    function = getattr(lib, f"sortnet_model_{SUFFIXES[dtype]}")
    arrays = model.memo(("native program", dtype), lambda: _arrays(model, dtype))
    units = arrays[0]
    width, n, nout = program(model, dtype).width, model.n, model.n_outputs
    pointers = tuple(array.ctypes.data for array in arrays)
    tiny = fused_threshold(model, dtype)  # 0: every block multiplies, then adds

    def run(X: np.ndarray, Y: np.ndarray, limit: float = np.inf) -> int:
        if not (X.flags.c_contiguous and Y.flags.c_contiguous and Y.flags.writeable):
            raise SortnetError("the precompiled model kernel needs C-contiguous arrays")
        if not X.flags.aligned:  # a view at an odd byte offset: the C code assumes alignment
            X = X.copy()
        shapes = (X.shape[1:], Y.shape)
        if X.dtype != dtype or Y.dtype != dtype or shapes != ((n,), (X.shape[0], nout)):
            raise SortnetError(
                f"the kernel takes {dtype} arrays of shapes (rows, {n}), (rows, {nout})"
            )
        code = function(
            X.ctypes.data,
            Y.ctypes.data,
            X.shape[0],
            n,
            width,
            pointers[0],
            len(units),
            *pointers[1:5],
            pointers[5],
            nout,
            limit,
            tiny,
        )
        if code == -2:
            raise MemoryError("the precompiled model kernel could not allocate its block buffer")
        return int(code)

    run.arrays = arrays  # type: ignore[attr-defined]  # keeps the arrays alive with it
    return run


def _arrays(model: CompiledModel, dtype: np.dtype) -> tuple[np.ndarray, ...]:
    """The program's arrays as the C kernel reads them (int64, uint8, ``dtype``)."""
    p = program(model, dtype)
    order, paired = schedule(p.units, p.terms, p.weights, p.biased)
    units = np.ascontiguousarray(p.units[order], dtype=np.int64)
    units[paired, 3] |= NEGATED_NEXT
    biased = p.biased[order]
    index = _stream(units, paired)
    if np.any(np.diff(p.outputs) != 1):  # the kernel copies out consecutive rows
        raise SortnetError("the C model kernel needs the outputs in consecutive rows")
    relu = CODES.index("relu")
    fast = np.zeros(len(units), dtype=bool)  # relu(z), relu(-z), no bias: RELU_PAIR
    fast[:-1] = paired[:-1] & (units[:-1, 2] > units[:-1, 1]) & ~biased[:-1] & ~biased[1:]
    fast[:-1] &= (units[:-1, 3] & 7 == relu) & (units[1:, 3] & 7 == relu)
    units[fast, 3] |= RELU_PAIR
    return (
        units,
        np.ascontiguousarray(biased, dtype=np.uint8),
        np.ascontiguousarray(p.bias[order], dtype=dtype),
        np.ascontiguousarray(p.terms[index], dtype=np.int64),
        np.ascontiguousarray(p.weights[index], dtype=dtype),
        np.ascontiguousarray(p.outputs, dtype=np.int64),
    )


def _stream(units: np.ndarray, paired: np.ndarray) -> np.ndarray:
    """The terms in the order the kernel reads them; ``units``' ranges renumbered to it.

    The unit after a paired one reads no term (its sum is the first's, negated), so
    its terms are left out: the kernel then streams only what it uses.
    """
    second = np.zeros(len(units), dtype=bool)
    second[1:] = paired[:-1]
    counts = np.where(second, 0, units[:, 2] - units[:, 1])
    picks = [np.arange(a, b) for a, b, c in zip(units[:, 1], units[:, 2], counts, strict=True) if c]
    starts = np.concatenate([[0], np.cumsum(counts)])
    units[:, 1], units[:, 2] = starts[:-1], starts[1:]
    return np.concatenate(picks) if picks else np.zeros(0, dtype=np.int64)


def schedule(
    units: np.ndarray, terms: np.ndarray, weights: np.ndarray, biased: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """An order of the units that computes the same values faster, and its negated pairs.

    The units are cut into runs in which no unit reads or writes a buffer row that
    another unit of the run writes (a layer's hidden units, its residual outputs);
    the units of a run are independent, so any order within it computes every unit
    with the same arithmetic. In a run, a unit whose terms are another's with every
    weight negated (``relu(z)`` and ``relu(-z)``) is placed right after it and the
    first is marked (``paired``): the kernel computes both in one pass, the second
    from the first's products (``x * -w == -(x * w)`` and ``a - b == a + -b``
    exactly). Each run is then sorted (stably) by activation code, number of terms
    and bias, so the kernel's branches and loop counts repeat.

    Examples
    --------
    >>> units = np.array([[4, 0, 2, 2], [5, 2, 3, 0], [6, 3, 5, 2], [7, 5, 6, 0]])
    >>> terms = np.array([0, 1, 0, 0, 1, 4])  # the last unit reads row 4: a new run
    >>> weights = np.array([0.5, -0.5, 1.0, -0.5, 0.5, 1.0])  # unit 2 negates unit 0
    >>> order, paired = schedule(units, terms, weights, np.zeros(4, bool))
    >>> order.tolist(), paired.tolist()
    ([1, 0, 2, 3], [False, True, False, False])
    """
    keys = np.lexsort((biased, units[:, 2] - units[:, 1], units[:, 3]))
    rank = np.empty(len(units), dtype=np.int64)
    rank[keys] = np.arange(len(units))
    order: list[int] = []
    paired: list[bool] = []
    all_terms, all_weights = terms.tolist(), weights.tolist()

    def close(run: list[int]) -> None:
        partner: dict[int, int] = {}
        waiting: dict[tuple[tuple[int, ...], tuple[float, ...]], list[int]] = {}
        for u in run:
            first, stop = int(units[u, 1]), int(units[u, 2])
            rows = tuple(all_terms[first:stop])
            key = (rows, tuple(-w for w in all_weights[first:stop]))
            if first < stop and waiting.get(key):
                partner[waiting[key].pop(0)] = u
            else:
                waiting.setdefault((rows, tuple(all_weights[first:stop])), []).append(u)
        seconds = set(partner.values())
        for u in sorted((u for u in run if u not in seconds), key=rank.__getitem__):
            order.append(u)
            paired.append(u in partner)
            if u in partner:
                order.append(partner[u])
                paired.append(False)

    run: list[int] = []
    written: set[int] = set()
    read: set[int] = set()
    for u, (target, first, stop, _code) in enumerate(units.tolist()):
        reads = set(all_terms[first:stop])
        if target in written or target in read or not reads.isdisjoint(written):
            close(run)
            run, written, read = [], set(), set()
        run.append(u)
        written.add(target)
        read |= reads
    close(run)
    return np.array(order, dtype=np.int64), np.array(paired, dtype=bool)

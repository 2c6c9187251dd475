"""The numba engine of the neural executor: one straight-line kernel per compiled model.

Compiled weights are very sparse (a comparator unit reads two inputs), so a dense
product spends most of its work on zeros. This module compiles each model into its
own kernel, built from its **non-zero** weights only: the whole model is one numba
intrinsic emitting LLVM IR (:mod:`sortnet.nn.model_intrinsic`), run over blocks of
rows (:mod:`sortnet.nn.codegen`, which also says why it computes what the layers do).
The kernel is serial and releases the GIL; the executor runs chunks on its own threads.

Caching and size. Kernels are cached in memory per model (keyed by a hash of the
weights, biases, activations, dtype and
:data:`~sortnet.nn.codegen.CODEGEN_VERSION`) and on disk by
numba (the source goes to :func:`sortnet._jit.cache_dir`), so a model compiles
once per machine. Compiling is the cost (LLVM's time grows with the code; relu,
float32, load 0.7-1.0): 0.4-1.3 s at n = 8 and 16, 1.5-3.7 s at n = 24 and 32, 6-12 s
at n = 48, 14-20 s at n = 64. Models with more than :data:`MAX_TERMS` non-zero
weights (above n = 64 for the sorting networks) get no straight-line kernel.

The generic kernel (:mod:`sortnet.nn.generic`, arrays from :mod:`sortnet.nn.program`)
runs any model sparse without a compilation of its own: it is compiled once per
dtype and shared, so it is the default until a model's straight-line kernel is
ready (:func:`kernel_for`), and the only numba kernel past :data:`MAX_TERMS`
(no cliff to a dense path); see :func:`use_numba`.
"""

from __future__ import annotations

import contextlib
import hashlib
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sortnet import _jit
from sortnet._jit import Kernel, KernelCache, compile_cached, import_generated, numba_available
from sortnet.errors import SortnetError
from sortnet.nn.codegen import CODEGEN_VERSION, kernel_source
from sortnet.nn.layer import csr
from sortnet.nn.program import program, supported

if TYPE_CHECKING:
    from sortnet.nn.model import CompiledModel

ENGINES = _jit.BACKENDS
#: Models with more non-zero weights than this get no straight-line kernel (compile time
#: grows with the code: 6-12 s for the relu models at n = 48, 11,212-15,072 terms, 14-20 s
#: at n = 64, 16,836-20,992 terms; bubble sort's 19,456 at n = 32 fit too).
MAX_TERMS = 24576

# Per model object; weak, and not in the model's memo, so a pickled model (dask) carries
# no kernel.
_by_model: weakref.WeakKeyDictionary[CompiledModel, dict[np.dtype, Kernel]] = (
    weakref.WeakKeyDictionary()
)
#: Compiled kernels by (weights digest, dtype).
CACHE = KernelCache("nn", also_clear=[_by_model])
_lock = CACHE.lock


def choose_engine(engine: str | None = None) -> str:
    """The engine to use: ``engine``, else ``$SORTNET_KERNEL``, else ``"auto"``.

    The same rule as the circuit kernels (:func:`sortnet._jit.choose_backend`).

    Examples
    --------
    >>> choose_engine("numpy")
    'numpy'
    >>> choose_engine("gpu")
    Traceback (most recent call last):
    ...
    sortnet.errors.SortnetError: unknown kernel back end 'gpu'; choose auto, numba or numpy
    """
    return _jit.choose_backend(engine)


def terms(model: CompiledModel) -> int:
    """Number of non-zero weights the generated code would contain (its size).

    Examples
    --------
    >>> import compilers, sortnet
    >>> terms(compilers.compile(sortnet.Network.from_comparators(2, [(0, 1)]), "abs"))
    8
    """
    matrices = [m for layer in model.layers for m in layer.matrices().values()]
    # Models are immutable: count once.
    return int(model.memo("numba terms", lambda: sum(int(csr(m).nnz) for m in matrices)))


def compilable(model: CompiledModel) -> bool:
    """Whether the numba engine runs ``model`` (at most :data:`MAX_TERMS` terms).

    Examples
    --------
    >>> import compilers, sortnet
    >>> compilable(compilers.compile(sortnet.network("bitonic", 8), "relu"))
    True
    """
    return terms(model) <= MAX_TERMS


def fingerprint(model: CompiledModel, dtype: Any) -> str:
    """Hash of everything the kernel computes from: weights, biases, activations, dtype.

    Examples
    --------
    >>> import compilers, sortnet
    >>> model = compilers.compile(sortnet.network("bitonic", 4), "abs")
    >>> fingerprint(model, np.float32) == fingerprint(model, np.float64)
    False
    """
    dtype = np.dtype(dtype)
    return str(model.memo(("numba digest", dtype), lambda: _fingerprint(model, dtype)))


def _fingerprint(model: CompiledModel, dtype: np.dtype) -> str:
    digest = hashlib.sha256(f"{CODEGEN_VERSION} {dtype.str}".encode())
    for layer in model.layers:
        digest.update(("|".join(layer.activations) + ";").encode())
        digest.update(np.ascontiguousarray(layer.bias, dtype=np.float64).tobytes())
        for name, matrix in layer.matrices().items():
            sparse = csr(matrix)
            digest.update(f"{name}{sparse.shape}".encode())
            for part in (sparse.indptr, sparse.indices, sparse.data):
                digest.update(np.ascontiguousarray(part).tobytes())
    return digest.hexdigest()[:24]


def get_kernel(model: CompiledModel, dtype: Any) -> Kernel:
    """The compiled kernel ``kernel(X, Y)`` of ``model`` for ``dtype`` (cached).

    Compiles (or loads numba's disk cache) on first use; later calls with the same
    weights, from this model or an equal one, reuse it.

    Examples
    --------
    >>> import compilers, sortnet
    >>> model = compilers.compile(sortnet.network("bitonic", 4), "relu")
    >>> X = np.array([[3.0, -1.0, 2.0, 0.0]]); Y = np.empty_like(X)
    >>> get_kernel(model, X.dtype)(X, Y); Y
    array([[-1.,  0.,  2.,  3.]])
    """
    dtype = np.dtype(dtype)
    if not numba_available():
        raise SortnetError("the numba engine needs numba (pip install numba)")
    if not compilable(model):
        raise SortnetError(
            f"model has {terms(model)} non-zero weights, more than the numba engine "
            f"compiles ({MAX_TERMS}); use engine='numpy'"
        )
    with _lock:
        cached = _by_model.get(model, {}).get(dtype)
        if cached is not None:
            CACHE.hit()
            return cached
    digest = fingerprint(model, dtype)
    with _lock:
        kernel = CACHE.lookup((digest, dtype.str))
    if kernel is None:
        source, stem = kernel_source(model, dtype), f"sortnet_model_{digest}"
        # Compile now (or load from disk) for C-contiguous arrays, the case we call;
        # a damaged disk cache entry is discarded and rebuilt (with a warning). Outside
        # the lock: a compile in the background must not hold up other kernels.
        kernel = compile_cached(
            stem,
            lambda fresh: import_generated(source, stem).kernel,  # always a fresh import
            np.zeros((1, model.n), dtype),
            np.zeros((1, model.n_outputs), dtype),
        )
        with _lock:
            kernel = CACHE.lookup((digest, dtype.str)) or kernel  # another thread's, if first
            if (digest, dtype.str) not in CACHE:
                CACHE.store((digest, dtype.str), kernel)
    with _lock:
        _by_model.setdefault(model, {})[dtype] = kernel
    return kernel


def compile_in_background(model: CompiledModel, dtype: Any) -> None:
    """Compile ``model``'s straight-line kernel on a daemon thread (once; errors dropped).

    Until it is ready another kernel runs the model (the C kernel, or the numba generic
    kernel); :func:`kernel_for` and :func:`sortnet.nn.native.runs` pick the
    straight-line kernel up as soon as it is compiled.

    Examples
    --------
    >>> import compilers, sortnet
    >>> model = compilers.compile(sortnet.network("bitonic", 2), "relu")
    >>> compile_in_background(model, "f8")
    >>> _jit.wait_for_background(), is_compiled(model, "f8")
    (True, True)
    """
    dtype = np.dtype(dtype)
    key = ("nn", fingerprint(model, dtype), dtype.str)
    with _lock:
        if key[1:] in CACHE:
            return
    _jit.in_background(key, lambda: get_kernel(model, dtype))


def is_compiled(model: CompiledModel, dtype: Any) -> bool:
    """Whether a kernel for ``model`` in ``dtype`` is ready in this process or on disk.

    Examples
    --------
    >>> import compilers, sortnet
    >>> model = compilers.compile(sortnet.network("bitonic", 4), "relu")
    >>> _ = get_kernel(model, np.float64); is_compiled(model, np.float64)
    True
    """
    dtype = np.dtype(dtype)
    if dtype in _by_model.get(model, {}):
        return True
    digest = fingerprint(model, dtype)
    if (digest, dtype.str) in CACHE:
        return True
    return _jit.on_disk(f"sortnet_model_{digest}")


_generic_modules: dict[str, Any] = {}
#: The generic kernel's file; its text is copied into the cache directory and imported.
GENERIC_SOURCE = Path(__file__).with_name("generic.py")


def _generic_stem() -> str:
    return "sortnet_model_generic_" + hashlib.sha256(GENERIC_SOURCE.read_bytes()).hexdigest()[:16]


def _generic_marker(dtype: np.dtype) -> Path:
    return _jit.cache_dir() / f"{_generic_stem()}.{dtype.name}.ready"


def generic_function(dtype: Any) -> Any:
    """The generic model kernel (:mod:`sortnet.nn.generic`) compiled for ``dtype``.

    Compiled once per dtype and machine (about a second), shared by every model.

    Examples
    --------
    >>> callable(generic_function(np.float64))
    True
    """
    dtype = np.dtype(dtype)
    where = str(_jit.cache_dir())
    key = ("generic", dtype.str, where)
    with _lock:
        found = CACHE.lookup(key)
        if found is not None:
            return found

        def load(fresh: bool) -> Any:
            module = None if fresh else _generic_modules.get(where)
            if module is None:
                module = import_generated(GENERIC_SOURCE.read_text(), _generic_stem())
                _generic_modules[where] = module
            return module.run_model

        tiny = program_of_identity(dtype)
        found = compile_cached(
            _generic_stem(), load, np.zeros((1, 1), dtype), np.zeros((1, 1), dtype), *tiny
        )
        CACHE.store(key, found)
        with contextlib.suppress(OSError):  # a read-only cache costs the marker only
            _generic_marker(dtype).touch()
    return found


def program_of_identity(dtype: np.dtype) -> tuple[Any, ...]:
    """Generic-kernel arguments of a one-input identity model (the warm-up call)."""
    units = np.array([[1, 0, 1, 0]], dtype=np.intp)
    return (
        2,
        units,
        np.zeros(1, np.bool_),
        np.zeros(1, dtype),
        np.zeros(1, np.intp),
        np.ones(1, dtype),
        np.ones(1, np.intp),
    )


def generic_ready(dtype: Any) -> bool:
    """Whether the generic model kernel for ``dtype`` is compiled (here or on disk).

    Examples
    --------
    >>> _ = generic_function(np.float64); generic_ready(np.float64)
    True
    """
    dtype = np.dtype(dtype)
    if ("generic", dtype.str, str(_jit.cache_dir())) in CACHE:
        return True
    return _generic_marker(dtype).exists()


def generic_kernel(model: CompiledModel, dtype: Any) -> Kernel:
    """``kernel(X, Y)`` running ``model`` on the generic kernel (no compile per model).

    Examples
    --------
    >>> import compilers, sortnet
    >>> model = compilers.compile(sortnet.network("bitonic", 4), "relu")
    >>> X = np.array([[3.0, -1.0, 2.0, 0.0]]); Y = np.empty_like(X)
    >>> generic_kernel(model, X.dtype)(X, Y); Y
    array([[-1.,  0.,  2.,  3.]])
    """
    function = generic_function(dtype)
    arguments = program(model, dtype).arguments()

    def kernel(X: np.ndarray, Y: np.ndarray) -> None:
        function(X, Y, *arguments)

    return kernel


def kernel_for(
    model: CompiledModel, dtype: Any, engine: str | None = None, *, background: bool = False
) -> Kernel:
    """The kernel the numba engine runs ``model`` with (see :func:`use_numba`).

    The model's straight-line kernel when it is compiled already (here or on disk),
    or when ``engine="numba"`` asks for it and the model has at most
    :data:`MAX_TERMS` non-zero weights; else the generic kernel, and with
    ``background`` the straight-line kernel starts compiling on a daemon thread
    (:func:`compile_in_background`) for later calls.

    Examples
    --------
    >>> import compilers, sortnet
    >>> model = compilers.compile(sortnet.network("bitonic", 4), "relu")
    >>> X = np.array([[3.0, -1.0, 2.0, 0.0]]); Y = np.empty_like(X)
    >>> kernel_for(model, X.dtype)(X, Y); Y
    array([[-1.,  0.,  2.,  3.]])
    """
    chosen = choose_engine(engine)
    straight = compilable(model) and (chosen == "numba" or is_compiled(model, dtype))
    if straight or not supported(model):
        return get_kernel(model, dtype)
    if background and compilable(model):
        compile_in_background(model, dtype)
    return generic_kernel(model, dtype)


def use_numba(model: CompiledModel, batch: np.ndarray, engine: str | None) -> bool:
    """Whether ``batch`` (already checked, C-contiguous) runs on the numba engine.

    ``"numba"`` always (a model above :data:`MAX_TERMS` non-zero weights, or with
    an activation the generic kernel lacks, on the generic kernel; refused if it
    has neither), ``"numpy"`` never; ``"auto"`` when a kernel for the model is
    ready (its straight-line kernel, or the generic kernel of the dtype, compiled
    here or on disk) or the batch has at least
    :data:`sortnet._jit.AUTO_MIN_ELEMENTS` values, so small one-off runs skip the compile.

    Examples
    --------
    >>> import compilers, sortnet
    >>> model = compilers.compile(sortnet.network("bitonic", 4), "relu")
    >>> use_numba(model, np.zeros((2, 4)), "numpy")
    False
    """
    chosen = choose_engine(engine)
    if chosen == "numpy":
        return False
    if chosen == "numba":
        return True
    if not compilable(model) and not supported(model):
        return False
    if batch.size >= _jit.AUTO_MIN_ELEMENTS:
        return True
    # numba compiles read-only arrays as another type, which a cached kernel does not
    # cover: a small read-only batch is not worth that compilation.
    if not batch.flags.writeable:
        return False
    if supported(model) and generic_ready(batch.dtype):
        return True
    return compilable(model) and is_compiled(model, batch.dtype)


#: This runtime's cache counters and reset (the JIT layer has both for all runtimes).
cache_info = CACHE.info
clear_cache = CACHE.clear

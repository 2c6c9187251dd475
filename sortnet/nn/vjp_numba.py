"""The numba engine of :mod:`sortnet.nn.autodiff`: the generic reverse-mode kernel at run time.

:mod:`sortnet.nn.generic_vjp` holds the kernel: one function over a model's program
(:mod:`sortnet.nn.program`, shared with the forward engine), compiled once per dtype
and cached on disk like the forward generic kernel. Chunks of rows run on the
threads of :mod:`sortnet.nn.autodiff` (the kernel releases the GIL). Rows where a
relu or abs unit is exactly at its kink are redone by the numpy engine
(:mod:`sortnet.nn.backprop`), so ties get the same stable-argsort rule on both
engines. Once a model's straight-line kernel (:mod:`sortnet.nn.vjp_codegen`) is
compiled (here or on disk) it runs instead; a batch of at least
:data:`sortnet._jit.AUTO_MIN_ELEMENTS` values starts it compiling in the background.
Straight-through gradients (``steepness=``) run on numpy only.
"""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sortnet import _jit
from sortnet.errors import SortnetError
from sortnet.nn.backprop import backward, forward_records, plan
from sortnet.nn.kernels import CACHE, choose_engine
from sortnet.nn.program import program, supported
from sortnet.nn.vjp_codegen import compile_in_background, ready_kernel

if TYPE_CHECKING:
    from sortnet.nn.model import CompiledModel

#: Rows per chunk on the numba engine (the kernel's buffers do not grow with it).
CHUNK_ROWS = 8192
#: The kernel's file; its text is copied into the cache directory and imported.
SOURCE = Path(__file__).with_name("generic_vjp.py")
_modules: dict[str, Any] = {}


def _stem() -> str:
    return "sortnet_model_vjp_" + hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:16]


def _marker(dtype: np.dtype) -> Path:
    return _jit.cache_dir() / f"{_stem()}.{dtype.name}.ready"


def vjp_function(dtype: Any) -> Any:
    """The generic reverse-mode kernel (:mod:`sortnet.nn.generic_vjp`) compiled for ``dtype``.

    Examples
    --------
    >>> callable(vjp_function(np.float64))
    True
    """
    dtype = np.dtype(dtype)
    where = str(_jit.cache_dir())
    key = ("generic vjp", dtype.str, where)
    with CACHE.lock:
        found = CACHE.lookup(key)
        if found is not None:
            return found

        def load(fresh: bool) -> Any:
            module = None if fresh else _modules.get(where)
            if module is None:
                module = _jit.import_generated(SOURCE.read_text(), _stem())
                _modules[where] = module
            return module.run_vjp

        one = np.zeros((1, 1), dtype)
        warm_up: tuple[Any, ...] = (
            (one, one, one.copy(), np.zeros(1, np.bool_), 2, np.array([[1, 0, 1, 0]], np.intp))
            + (np.zeros(1, np.bool_), np.zeros(1, dtype), np.zeros(1, np.intp))
            + (np.ones(1, dtype), np.ones(1, np.intp))
        )
        found = _jit.compile_cached(_stem(), load, *warm_up)
        CACHE.store(key, found)
        with contextlib.suppress(OSError):  # a read-only cache costs the marker only
            _marker(dtype).touch()
    return found


def ready(dtype: Any) -> bool:
    """Whether the reverse-mode kernel for ``dtype`` is compiled (here or on disk).

    Examples
    --------
    >>> _ = vjp_function(np.float64); ready(np.float64)
    True
    """
    dtype = np.dtype(dtype)
    if ("generic vjp", dtype.str, str(_jit.cache_dir())) in CACHE:
        return True
    return _marker(dtype).exists()


def use_numba(
    model: CompiledModel, batch: np.ndarray, engine: str | None, steepness: float | None
) -> bool:
    """Whether gradients of ``batch`` run on the numba engine (the rule of ``model(X)``).

    ``"numba"`` always (refused for ``steepness=`` or an activation without a
    code), ``"numpy"`` never; ``"auto"`` when numba is installed, the model runs on
    the generic program, there is no ``steepness`` and either the batch has at
    least :data:`sortnet._jit.AUTO_MIN_ELEMENTS` values or the kernel is compiled.

    Examples
    --------
    >>> import compilers, sortnet
    >>> model = compilers.compile(sortnet.network("bitonic", 4), "relu")
    >>> use_numba(model, np.zeros((2, 4)), "numpy", None)
    False
    >>> use_numba(model, np.zeros((2, 4)), "numba", 1.0)
    Traceback (most recent call last):
    ...
    sortnet.errors.SortnetError: steepness= (straight-through) runs on the numpy engine only
    """
    chosen = choose_engine(engine)
    if chosen == "numpy":
        return False
    if chosen == "numba":
        if steepness is not None:
            raise SortnetError("steepness= (straight-through) runs on the numpy engine only")
        if not supported(model):
            raise SortnetError("the model has an activation the numba vjp engine lacks")
        return True
    if steepness is not None or not supported(model):
        return False
    if batch.size >= _jit.AUTO_MIN_ELEMENTS:
        return True
    return bool(batch.flags.writeable) and ready(batch.dtype)


def chunk_work(model: CompiledModel, upstream: np.ndarray, result: np.ndarray) -> Any:
    """``work(state, start, chunk)``: ``result[rows] = vjp`` of one chunk, ties on numpy.

    Examples
    --------
    >>> import compilers, sortnet
    >>> model = compilers.compile(sortnet.network("bubble", 3), "relu")
    >>> X = np.array([[3.0, 1.0, 2.0], [2.0, 2.0, 1.0]]); dX = np.empty_like(X)
    >>> chunk_work(model, np.array([[10.0, 20, 30]] * 2), dX)(None, 0, X); dX
    array([[30., 10., 20.],
           [20., 30., 10.]])
    """
    dtype = result.dtype
    straight = ready_kernel(model, dtype)
    if straight is None:
        function = vjp_function(dtype)
        arguments = program(model, dtype).arguments()
        if result.size >= _jit.AUTO_MIN_ELEMENTS:  # worth the model's own kernel next time
            compile_in_background(model, dtype)

    def work(_: Any, start: int, chunk: np.ndarray) -> None:
        rows = chunk.shape[0]
        G = upstream[start : start + rows]
        out = result[start : start + rows]
        tied = np.zeros(rows, np.bool_)
        if straight is not None:
            straight(chunk, G, out, tied)
        else:
            function(chunk, G, out, tied, *arguments)
        if tied.any():  # the numpy engine's tangent rule, on these rows only
            index = np.flatnonzero(tied)
            steps = plan(model, dtype)
            kept = forward_records(steps, chunk[index], None, keep_hidden=False)
            out[index] = backward(steps, kept, G[index], 1)

    return work

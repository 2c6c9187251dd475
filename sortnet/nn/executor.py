"""The neural executor: run a :class:`~sortnet.nn.model.CompiledModel` on a batch.

Three engines compute exactly what the layers say (weighted sums, bias, activation
per unit, skip) and nothing else:

* the precompiled C kernel (:mod:`sortnet.nn.native`, an optional extension built at
  install): the generic program (:mod:`sortnet.nn.program`) with no JIT at all, bit
  for bit the numba generic kernel and several times faster. It runs in ``auto``
  mode whenever it is built and the model's activations have codes, unless the
  model's straight-line numba kernel is compiled already (that one is faster
  still); a large batch starts that kernel compiling in the background, as below.
* ``numba`` (:mod:`sortnet.nn.kernels`): the model's non-zero weights only. A
  model's own straight-line kernel (one statement per unit, values in registers;
  up to ``model_kernels.MAX_TERMS`` non-zero weights; 3 s to compile for bitonic
  n=16, 12 s for n=32 with ``relu``) runs when it is compiled (here or on disk);
  otherwise the generic kernel (:mod:`sortnet.nn.generic`: weights as arrays,
  compiled once per dtype, any size of model) runs, and a large batch starts the
  straight-line kernel compiling in the background. The default when numba is
  installed and a kernel is ready or the batch has at least
  ``sortnet._jit.AUTO_MIN_ELEMENTS`` values.
* ``numpy``, the tested fallback: each chunk runs through its own preallocated
  buffers, reused for every layer; a group of units with the same activation is
  one in-place numpy call on a slice (compilers order units by activation); each
  matrix is a scipy CSR array (prepared once per model and dtype, cached on the
  model), never a BLAS product, whose summation order depends on the number of rows.

Both engines share the rest: rows are processed in chunks small enough to stay
in cache (the C kernel, which needs no chunk buffer, takes a few large chunks, as
many per thread), so memory stays bounded whatever the batch size; chunks run on a few
threads (numpy and the numba kernels release the GIL); every chunk is checked
(NaN, infinity, overflow limit, model bound) before it runs. Sparse,
dense and generated products add the same non-zero terms; only the summation
order can differ, which the exactness contract of
:class:`~sortnet.nn.model.CompiledModel` allows for.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from sortnet import _jit
from sortnet._args import positive_int
from sortnet.errors import InputError
from sortnet.nn import kernels as model_kernels
from sortnet.nn import native
from sortnet.nn.activations import ACTIVATIONS
from sortnet.nn.layer import Matrix, to_dense

if TYPE_CHECKING:
    from sortnet.nn.model import CompiledModel

#: Target size of one chunk buffer in bytes (a chunk should live in L2 cache).
CHUNK_BYTES = 1 << 19
#: At most this many rows per chunk for the C kernel (which needs no chunk buffers).
NATIVE_CHUNK_ROWS = 1 << 18
#: Values above finfo.max / OVERFLOW_MARGIN could overflow inside a layer's sums.
OVERFLOW_MARGIN = 64.0


@dataclass
class _Product:
    """One matrix ``M``, prepared for ``out = V @ M.T`` on row batches in a given dtype.

    Always a CSR product, never BLAS: CSR adds each unit's terms in one fixed order
    for every row, where BLAS picks its kernel, hence its summation order, by the
    number of rows (seen on an AMD EPYC: ``sortnet run`` in 8-row blocks and
    ``model(X)`` on all 50 rows differed in the last bit), so results would depend on
    the batch and chunk sizes.
    """

    csr: Any
    identity: bool

    @classmethod
    def of(cls, matrix: Matrix, dtype: np.dtype) -> _Product:
        import scipy.sparse

        rows, cols = matrix.shape
        nnz = np.count_nonzero(matrix) if isinstance(matrix, np.ndarray) else matrix.nnz
        identity = rows == cols and nnz == rows and np.array_equal(to_dense(matrix), np.eye(rows))
        return cls(scipy.sparse.csr_array(matrix, dtype=dtype), identity)

    def apply(self, V: np.ndarray, out: np.ndarray) -> np.ndarray:
        out[...] = (self.csr @ V.T).T
        return out


@dataclass
class _Step:
    weight: _Product
    bias: np.ndarray | None  # None when all zero
    kernels: list[tuple[Any, int, int]]  # non-identity activations: (inplace, start, stop)
    out_weight: _Product | None
    skip: _Product | None
    units: int
    outputs: int


def _plan(model: CompiledModel, dtype: np.dtype) -> list[_Step]:
    steps = []
    for layer in model.layers:
        residual = layer.out_weight is not None and layer.skip is not None
        steps.append(
            _Step(
                weight=_Product.of(layer.weight, dtype),
                bias=layer.bias.astype(dtype) if np.any(layer.bias) else None,
                kernels=[
                    (ACTIVATIONS[name].inplace, start, stop)
                    for name, start, stop in layer.groups
                    if name != "identity"
                ],
                out_weight=_Product.of(layer.out_weight, dtype) if residual else None,
                skip=_Product.of(layer.skip, dtype) if residual else None,
                units=layer.units,
                outputs=layer.outputs,
            )
        )
    return steps


def check_input(model: CompiledModel, X: Any, dtype: Any) -> tuple[np.ndarray, bool]:
    """The batch as a 2-D float array of the run dtype, and whether it was 1-D."""
    try:
        array = np.asarray(X)
    except ValueError as error:  # ragged nested lists
        raise InputError(f"X must be a rectangular (batch, {model.n}) array: {error}") from None
    if array.dtype.kind not in "biuf":
        raise InputError(f"X must hold real numbers, got dtype {array.dtype}")
    if dtype is None:
        dtype = array.dtype if array.dtype in (np.float32, np.float64) else np.float64
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise InputError(f"dtype must be float32 or float64, got {dtype!r}") from None
    if dtype not in (np.float32, np.float64):
        raise InputError(f"dtype must be float32 or float64, got {dtype}")
    single = array.ndim == 1
    if single:
        array = array[None, :]
    if array.ndim != 2:
        raise InputError(f"X must have shape (batch, {model.n}), got {array.shape}")
    if array.shape[1] != model.n:
        raise InputError(
            f"X has width {array.shape[1]} but the model takes n={model.n} inputs per row"
        )
    if array.dtype.kind in "iu" and array.size:
        _check_integers(model, array, dtype)
    with np.errstate(over="ignore"):
        converted = np.ascontiguousarray(array, dtype=dtype)
    if array.dtype.kind == "f" and array.dtype.itemsize > dtype.itemsize:
        # A value past the run dtype's range would turn into inf and be misreported.
        lost = np.isinf(converted) & np.isfinite(array)
        if lost.any():
            row, col = np.argwhere(lost)[0]
            raise InputError(
                f"X[{row}, {col}] = {array[row, col]:g} is outside the range of {dtype.name}"
            )
    return converted, single


def _check_integers(model: CompiledModel, array: np.ndarray, dtype: np.dtype) -> None:
    """Refuse integers the model would not answer exactly in ``dtype``.

    Integer input asks for an integer answer, but converting it to floats and running
    the layers rounds silently past a size (``2**53 + 1`` becomes ``2**53`` in float64).
    Comparator models are exact on integers of magnitude below ``2**(p - 2)``
    (``p`` = 24 for float32, 53 for float64; see :class:`CompiledModel`), counting
    models on those up to ``2**p`` (they only need the conversion to be exact).
    The comparison is done in Python integers, so no value is rounded to decide.
    """
    p = np.finfo(dtype).nmant + 1
    counting = model.lowering == "counting"
    limit = 2**p + 1 if counting else 2 ** (p - 2)
    if int(array.max()) < limit and int(array.min()) > -limit:
        return
    bad = (array >= limit) | (array <= -limit) if array.dtype.kind == "i" else array >= limit
    row, col = np.argwhere(bad)[0]
    allowed = f"at most 2**{p}" if counting else f"below 2**{p - 2}"
    raise InputError(
        f"X[{row}, {col}] = {array[row, col]} is an integer too large for an exact answer in "
        f"{dtype.name}: a {model.lowering} model is exact on integers of magnitude {allowed}; "
        "pass X as floats to accept rounding"
    )


def _limit(model: CompiledModel, dtype: np.dtype) -> tuple[float, str]:
    overflow = float(np.finfo(dtype).max) / OVERFLOW_MARGIN
    if model.bound is not None:
        # Compare with the bound as the weights hold it in this dtype.
        bound = float(dtype.type(model.bound))
        if bound <= overflow:
            return bound, f"the model's input bound {model.bound:g} (|x| <= bound)"
    return overflow, f"the overflow limit {overflow:g} for {dtype.name}"


def _refusal(chunk: np.ndarray, offset: int, limit: float, reason: str) -> InputError:
    bad = ~np.isfinite(chunk)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        what = "NaN" if np.isnan(chunk[row, col]) else "an infinity"
        return InputError(f"X contains {what} at row {offset + row}, column {col}")
    row, col = np.argwhere(np.abs(chunk) > limit)[0]
    return InputError(
        f"X[{offset + row}, {col}] = {chunk[row, col]:g} is outside {reason}; "
        "the model refuses it rather than answer wrongly"
    )


class _Worker:
    """Runs chunks through the steps with its own buffers (one worker per thread)."""

    def __init__(self, steps: list[_Step], n: int, chunk_rows: int, dtype: np.dtype) -> None:
        self.steps = steps
        self.n = n
        width = max([n] + [max(s.units, s.outputs) for s in steps])
        self.buffers = [np.empty(width * chunk_rows, dtype=dtype) for _ in range(4)]

    def __call__(self, chunk: np.ndarray, out: np.ndarray) -> None:
        rows = chunk.shape[0]
        flat = list(self.buffers)  # flat[0] is free for the current values, the rest spare

        def view(buffer: np.ndarray, width: int) -> np.ndarray:
            return buffer[: width * rows].reshape(rows, width)

        current = chunk
        for step in self.steps:
            hidden = view(flat[1], step.units)
            step.weight.apply(current, hidden)
            if step.bias is not None:
                hidden += step.bias
            for inplace, first, stop in step.kernels:
                inplace(hidden[:, first:stop])
            if step.out_weight is None or step.skip is None:
                flat[0], flat[1] = flat[1], flat[0]
                current = hidden
                continue
            output = view(flat[2], step.outputs)
            update = step.out_weight.apply(hidden, view(flat[3], step.outputs))
            if step.skip.identity:  # y = x + U h: one pass, no copy of x
                np.add(current, update, out=output)
            else:
                step.skip.apply(current, output)
                output += update
            flat[0], flat[2] = flat[2], flat[0]
            current = output
        out[...] = current


def default_threads() -> int:
    """Threads the executor uses by default: the CPUs this process may run on (max 8)."""
    try:
        count = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        count = os.cpu_count() or 1
    return max(1, min(8, count))


def run(
    model: CompiledModel,
    X: Any,
    *,
    dtype: Any = None,
    chunk_rows: int | None = None,
    threads: int | None = None,
    engine: str | None = None,
) -> np.ndarray:
    """Run ``model`` on the rows of ``X``: the neural executor.

    Parameters
    ----------
    model : CompiledModel
    X : array_like, shape (batch, n) or (n,)
        Real values; float32 and float64 run in their own precision, other
        numeric types are converted to float64.
    dtype : {None, float32, float64}
        Precision of the run (default: that of ``X``, float64 for non-floats).
    chunk_rows : int, optional
        Rows per chunk, a positive integer (default: as many as fit ~512 KiB per
        buffer).
    threads : int, optional
        Worker threads, a positive integer (default :func:`default_threads`); 1 runs
        in the caller. More threads than chunks are not started.
    engine : {None, "auto", "numba", "numpy"}
        None reads ``$SORTNET_KERNEL`` (default ``"auto"``). ``"numba"`` runs the
        generated kernel (compiling it on first use),
        ``"numpy"`` the matrix products; ``"auto"`` picks the precompiled C
        kernel when it is built, else numba when it is installed and worth it
        (see the module notes). Same checks and results
        either way, up to summation order.

    Returns
    -------
    ndarray, shape (batch, n_outputs) (or (n_outputs,) for 1-D ``X``)

    Raises
    ------
    InputError
        Wrong shape or width, non-numeric data, NaN or infinity, a value the
        model cannot handle (see :class:`~sortnet.nn.model.CompiledModel`), or a
        ``chunk_rows`` or ``threads`` that is not a positive integer.
    SortnetError
        Unknown engine, or ``engine="numba"`` without numba.

    Examples
    --------
    >>> import compilers, sortnet
    >>> model = compilers.compile(sortnet.Network.from_comparators(3, [(0, 1), (1, 2), (0, 1)]))
    >>> run(model, np.array([[2.0, -1.0, 0.5]]))
    array([[-1. ,  0.5,  2. ]])
    >>> run(model, np.array([[2.0, -1.0, 0.5]]), engine="numpy")
    array([[-1. ,  0.5,  2. ]])
    >>> run(model, np.zeros((1, 4)))
    Traceback (most recent call last):
    ...
    sortnet.errors.InputError: X has width 4 but the model takes n=3 inputs per row
    """
    # Checked before anything runs, so every engine and batch refuses the same values.
    chunk_rows = positive_int(chunk_rows, "chunk_rows")
    threads = positive_int(threads, "threads")
    array, single = check_input(model, X, dtype)
    dtype = array.dtype
    kernel: Any = None
    steps: list[_Step] = []
    fused: native.NativeKernel | None = None  # the C kernel: checks chunks as it loads them
    if native.runs(model, dtype, engine):
        kernel = fused = native.kernel(model, dtype)
        width = model.n + model.n_outputs  # chunks as the numba engine's: same refusals
    elif model_kernels.use_numba(model, array, engine):
        # A large batch also starts the model's straight-line kernel compiling in the
        # background (the generic kernel runs until it is ready).
        big = array.size >= _jit.AUTO_MIN_ELEMENTS
        kernel = model_kernels.kernel_for(model, dtype, engine, background=big)
        # Only the input and output chunks are buffers here (the kernel keeps a block).
        width = model.n + model.n_outputs
    else:
        steps = model.memo(dtype, lambda: _plan(model, dtype))
        width = max([model.n] + [max(s.units, s.outputs) for s in steps])
    limit, reason = _limit(model, dtype)
    batch = array.shape[0]
    result = np.empty((batch, model.n_outputs), dtype=dtype)
    threads = default_threads() if threads is None else threads
    if chunk_rows is None and fused is not None:
        # The C kernel keeps its own block buffer, so a chunk is only a unit of work:
        # a few large ones, as many per thread, of equal size (relu, n = 32, 1M
        # float32 rows: 69-70 ms in 250,000-row chunks, 74-75 ms in 62,500-row ones,
        # 93 ms in the 2048-row chunks below).
        rounds = -(-batch // (threads * NATIVE_CHUNK_ROWS))
        chunk_rows = -(-batch // max(1, threads * rounds))
    elif chunk_rows is None:
        chunk_rows = max(256, CHUNK_BYTES // (width * dtype.itemsize))
    chunk_rows = max(1, min(chunk_rows, batch))  # max: an empty batch has no rows
    starts = list(range(0, batch, chunk_rows))
    threads = max(1, min(threads, len(starts)))

    def work(part: int) -> tuple[int, InputError] | None:
        if kernel is not None:
            worker: Any = kernel  # releases the GIL, so threads run in parallel
        else:
            worker = _Worker(steps, model.n, chunk_rows, dtype)
        for start in starts[part::threads]:
            chunk = array[start : start + chunk_rows]
            if fused is not None:  # the kernel finds what min/max would (NaN, |x| > limit)
                if fused(chunk, result[start : start + chunk.shape[0]], limit) >= 0:
                    return start, _refusal(chunk, start, limit, reason)
                continue
            # min/max propagate NaN, so two reductions screen NaN, inf and out-of-range.
            if not (chunk.min() >= -limit and chunk.max() <= limit):
                return start, _refusal(chunk, start, limit, reason)
            worker(chunk, result[start : start + chunk.shape[0]])
        return None

    if threads == 1:
        failures = [work(0)]
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            failures = list(pool.map(work, range(threads)))
    refused = [failure for failure in failures if failure is not None]
    if refused:
        raise min(refused, key=lambda failure: failure[0])[1]
    if fused is not None and native.straight_line_pays(model, array):
        # Faster once ready (relu, n = 32, 1M float32 rows: 30-47 ms against C's 50-58);
        # started after this call (no call waits for it), the C kernel runs meanwhile.
        model_kernels.compile_in_background(model, dtype)
    return result[0] if single else result

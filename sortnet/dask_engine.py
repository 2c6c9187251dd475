"""The dask engine: sort or run a model on a ``dask.array`` lazily, one task per row chunk.

:func:`sortnet.sort` and :class:`~sortnet.model.CompiledModel` calls hand dask arrays
to this module. The array is rechunked so that every chunk holds whole rows (one
column chunk), and :meth:`dask.array.Array.map_blocks` applies the network (or the
model) to each row chunk: one network per task, nothing shared between tasks, so the
same graph runs on the local threaded scheduler or on a ``dask.distributed`` cluster.

Inside a task the compiled kernel runs single-threaded (``parallel=False``): dask
already runs one task per core, and nesting numba's thread pool in each task would
oversubscribe the cores. The client decides whether the batch is worth a compiled
kernel; a worker whose ``SORTNET_KERNEL`` is ``numpy`` (or that lacks numba) runs the
numpy executor instead, with the same results.

Input checks (NaN, model bounds) run per chunk, when the graph is computed, and raise
:class:`~sortnet.errors.InputError` from ``compute()``; each task knows the offset of
its first row, so the error names the row of the whole array.

Task keys: dask treats equal keys as equal results and computes them once, so a key
hashes everything that determines its result: the input array's key and chunks, the
network's comparators and output wires (k is in them once selected), the kind, the
dtype and the back end, or a model's content digest (:attr:`CompiledModel.digest`:
every weight, not only the metadata).

dask is optional: nothing here imports it until a dask array is seen.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from sortnet.errors import InputError, SortnetError

#: Rows per chunk when a chunk has to be chosen (about 64 MB of float32 at n=16).
DEFAULT_CHUNK_ROWS = 1 << 20

KINDS = ("sort", "argsort")

# Row numbers in the executors' messages: "at row 5", "X[5, 2] = ...". A task shifts
# them by its block's offset; tests/test_dask.py checks every message that has one, so
# a reworded message cannot silently go back to numbering rows within the chunk.
_ROW_REFERENCE = re.compile(r"(\bat row |\bX\[)(\d+)")


def is_dask_array(X: Any) -> bool:
    """Whether ``X`` is a ``dask.array.Array`` (without importing dask otherwise).

    Examples
    --------
    >>> is_dask_array(np.zeros((2, 3)))
    False
    """
    if not type(X).__module__.startswith("dask."):
        return False
    import dask.array as da

    return isinstance(X, da.Array)


def _whole_rows(X: Any, width: int, chunk_rows: int | None, kinds: str = "iuf") -> Any:
    """``X`` checked to be ``(batch, width)`` and rechunked so no row is split.

    ``kinds`` are the accepted dtype kinds: models, like ``model(X)`` on numpy
    arrays, also take booleans ("b").
    """
    if X.ndim != 2:
        raise InputError(f"X must have shape (batch, n={width}), got shape {X.shape}")
    if X.shape[1] != width:
        raise InputError(f"X has {X.shape[1]} columns but the network has n={width} wires")
    if X.dtype.kind not in kinds:
        raise InputError(f"X must have an integer or floating dtype, got {X.dtype}")
    if chunk_rows is not None and (
        isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1
    ):
        raise InputError(f"chunk_rows must be a positive integer, got {chunk_rows!r}")
    if chunk_rows is None:
        return X if len(X.chunks[1]) == 1 else X.rechunk({1: -1})
    return X.rechunk({0: chunk_rows, 1: -1})


def sort(
    X: Any, net: Any, *, k: Any = None, chunk_rows: int | None = None, kind: str = "sort"
) -> Any:
    """Lazily sort the rows of a dask array with the comparator network ``net``.

    Parameters
    ----------
    X : dask.array.Array, shape (batch, n)
        Integer or floating rows; chunks may split rows (they are rechunked).
    net : Network
        A comparator network on ``n`` wires.
    k : int or {"median", "min", "max"}, optional
        Keep only the k-th smallest (1-based), shape ``(batch, 1)``.
    chunk_rows : int, optional
        Rows per task (default: keep the row chunks of ``X``).
    kind : {"sort", "argsort"}
        ``"argsort"`` gives the stable source column of each output instead.

    Returns
    -------
    dask.array.Array
        Lazy, shape ``(batch, len(outputs))``; same dtype as ``X`` (``intp`` for argsort).

    Examples
    --------
    >>> import dask.array as da, sortnet
    >>> net = sortnet.Network.from_comparators(3, [(0, 1), (1, 2), (0, 1)])
    >>> Y = sortnet.sort(da.from_array(np.array([[3, 1, 2], [9, 8, 7]]), chunks=(1, 2)), net)
    >>> Y.chunks, Y.compute().tolist()
    (((1, 1), (3,)), [[1, 2, 3], [7, 8, 9]])
    """
    from dask.base import tokenize

    from sortnet.network import Network
    from sortnet.select import select

    if kind not in KINDS:
        raise SortnetError(f"kind must be 'sort' or 'argsort', got {kind!r}")
    if not isinstance(net, Network) or net.kind != "comparator":
        raise SortnetError("the circuit executor runs comparator networks only")
    if k is not None:
        net = select(net, k)
    X = _whole_rows(X, net.n, chunk_rows)
    # Decide once for the whole batch: compile the kernel if the batch is large,
    # even though each task sees only one chunk.
    from sortnet import kernels

    backend = "numba" if kernels.use_kernel(X, net, kind=kind) else "numpy"
    width = len(net.outputs)
    dtype = np.dtype(np.intp) if kind == "argsort" else X.dtype
    token = tokenize(
        X.name,
        X.chunks,
        X.dtype.str,
        net.n,
        [tuple(pair) for pair in net.comparators],
        list(net.output_wires),
        k,
        kind,
        backend,
    )
    return X.map_blocks(
        _network_task,
        net,
        backend,
        kind,
        dtype=dtype,
        chunks=(X.chunks[0], (width,)),
        meta=np.empty((0, width), dtype),
        name=f"sortnet-{kind}-{token}",
    )


def _row_offset(block_info: Any) -> int:
    """The row of the whole array where this task's block starts (``map_blocks`` tells)."""
    if not block_info:  # called outside map_blocks
        return 0
    return int(block_info[0]["array-location"][0][0])


def _rebased(error: InputError, offset: int) -> InputError:
    """``error`` with its row numbers counted from the first row of the whole array.

    Examples
    --------
    >>> _rebased(InputError("X contains NaN at row 3, column 1"), 50)
    InputError('X contains NaN at row 53, column 1')
    >>> _rebased(InputError("X[2, 0] = 1e+300 is outside the range of float32"), 50)
    InputError('X[52, 0] = 1e+300 is outside the range of float32')
    """
    message = _ROW_REFERENCE.sub(
        lambda match: f"{match.group(1)}{int(match.group(2)) + offset}", str(error)
    )
    return InputError(message)


def _task_backend(chosen: str) -> str:
    """The back end on this process: the client's choice unless this worker overrides it.

    A worker with ``SORTNET_KERNEL=numpy``, or without numba, never compiles; one with
    ``SORTNET_KERNEL=numba`` always does; ``auto`` follows the client, which saw the
    size of the whole batch.
    """
    from sortnet import kernels

    local = kernels.choose_backend()
    return chosen if local == "auto" else local


def _network_task(
    block: np.ndarray, net: Any, backend: str, kind: str, block_info: Any = None
) -> np.ndarray:
    """One task: run ``net`` on one chunk of whole rows on the calling thread."""
    from sortnet import circuit, kernels

    try:
        block = circuit._check_input(block, net)
    except InputError as error:
        raise _rebased(error, _row_offset(block_info)) from None
    dtype = np.intp if kind == "argsort" else block.dtype
    out = np.empty((block.shape[0], len(net.outputs)), dtype=dtype)
    block = np.ascontiguousarray(block)
    backend = _task_backend(backend)
    if kernels.sort_into(block, net, out, backend=backend, parallel=False, kind=kind):
        return out
    run = circuit.argsort if kind == "argsort" else circuit.sort
    return run(block, net)


def run_model(model: Any, X: Any, *, dtype: Any = None, chunk_rows: int | None = None) -> Any:
    """Lazily run a compiled model (the neural executor) on each row chunk of a dask array.

    Parameters
    ----------
    model : CompiledModel
    X : dask.array.Array, shape (batch, n)
    dtype : {None, float32, float64}
        Precision (default: float32 for float32 input, else float64), as for ``model(X)``.
    chunk_rows : int, optional
        Rows per task (default: keep the row chunks of ``X``).

    Returns
    -------
    dask.array.Array
        Lazy, shape ``(batch, model.n_outputs)``.

    Examples
    --------
    >>> import dask.array as da, compilers, sortnet
    >>> model = compilers.compile(sortnet.Network.from_comparators(2, [(0, 1)]), "relu")
    >>> model(da.from_array(np.array([[2.0, -1.0], [0.0, 5.0]]), chunks=1)).compute()
    array([[-1.,  2.],
           [ 0.,  5.]])
    """
    from dask.base import tokenize

    X = _whole_rows(X, model.n, chunk_rows, kinds="biuf")
    if dtype is None:
        dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise InputError(f"dtype must be float32 or float64, got {dtype!r}") from None
    if dtype not in (np.float32, np.float64):
        raise InputError(f"dtype must be float32 or float64, got {dtype}")
    width = model.n_outputs
    # The digest covers every weight: equal metadata alone must not share a key.
    token = tokenize(X.name, X.chunks, X.dtype.str, model.digest, dtype.str)
    return X.map_blocks(
        _model_task,
        model,
        dtype,
        dtype=dtype,
        chunks=(X.chunks[0], (width,)),
        meta=np.empty((0, width), dtype),
        name=f"sortnet-model-{token}",
    )


def _model_task(
    block: np.ndarray, model: Any, dtype: np.dtype, block_info: Any = None
) -> np.ndarray:
    """One task: the model on one chunk, on the calling thread (dask runs one per core)."""
    try:
        return model(block, dtype=dtype, threads=1)  # type: ignore[no-any-return]
    except InputError as error:
        raise _rebased(error, _row_offset(block_info)) from None

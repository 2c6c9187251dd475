"""The dask engine: sort or run a model on a ``dask.array`` lazily, one task per row chunk.

:func:`sortnet.sort` and :class:`~sortnet.model.CompiledModel` calls hand dask arrays
to this module. The array is rechunked so that every chunk holds whole rows (one
column chunk), and :meth:`dask.array.Array.map_blocks` applies the network (or the
model) to each row chunk: one network per task, nothing shared between tasks, so the
same graph runs on the local threaded scheduler or on a ``dask.distributed`` cluster.

Inside a task the compiled kernel runs single-threaded (``parallel=False``): dask
already runs one task per core, and nesting numba's thread pool in each task would
oversubscribe the cores. Input checks (NaN, model bounds) run per chunk, when the
graph is computed, and raise :class:`~sortnet.errors.InputError` from ``compute()``.

dask is optional: nothing here imports it until a dask array is seen.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sortnet.errors import InputError, SortnetError

#: Rows per chunk when a chunk has to be chosen (about 64 MB of float32 at n=16).
DEFAULT_CHUNK_ROWS = 1 << 20


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


def _whole_rows(X: Any, width: int, chunk_rows: int | None) -> Any:
    """``X`` checked to be ``(batch, width)`` and rechunked so no row is split."""
    if X.ndim != 2:
        raise InputError(f"X must have shape (batch, n={width}), got shape {X.shape}")
    if X.shape[1] != width:
        raise InputError(f"X has {X.shape[1]} columns but the network has n={width} wires")
    if X.dtype.kind not in "iuf":
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
    key = (net.n, tuple(net.comparators), tuple(net.output_wires))
    return X.map_blocks(
        _network_task,
        net,
        backend,
        kind,
        dtype=dtype,
        chunks=(X.chunks[0], (width,)),
        meta=np.empty((0, width), dtype),
        name=f"sortnet-{kind}-{tokenize(X, key, backend)}",
    )


def _network_task(block: np.ndarray, net: Any, backend: str, kind: str) -> np.ndarray:
    """One task: run ``net`` on one chunk of whole rows on the calling thread."""
    from sortnet import circuit, kernels

    block = circuit._check_input(block, net)
    dtype = np.intp if kind == "argsort" else block.dtype
    out = np.empty((block.shape[0], len(net.outputs)), dtype=dtype)
    block = np.ascontiguousarray(block)
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
    import json

    from dask.base import tokenize

    X = _whole_rows(X, model.n, chunk_rows)
    if dtype is None:
        dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise InputError(f"dtype must be float32 or float64, got {dtype}")
    width = model.n_outputs
    return X.map_blocks(
        _model_task,
        model,
        dtype,
        dtype=dtype,
        chunks=(X.chunks[0], (width,)),
        meta=np.empty((0, width), dtype),
        name=f"sortnet-model-{tokenize(X, json.dumps(model.metadata, sort_keys=True), dtype.str)}",
    )


def _model_task(block: np.ndarray, model: Any, dtype: np.dtype) -> np.ndarray:
    # One thread per task: dask runs as many tasks as there are cores.
    return model(block, dtype=dtype, threads=1)  # type: ignore[no-any-return]

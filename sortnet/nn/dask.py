"""The neural runtime's dask engine: run a model on a ``dask.array`` lazily, per row chunk.

``model(X)`` hands dask arrays to this module. Each row chunk is one task that runs the
model with one thread (dask already runs one task per core; nesting the executor's
threads would oversubscribe them). Input checks (NaN, model bounds) run per chunk,
when the graph is computed, and raise :class:`~sortnet.errors.InputError` from
``compute()``; each task knows the offset of its first row, so the error names the
row of the whole array.

Task keys: dask treats equal keys as equal results and computes them once, so a key
hashes the input array's key, chunks and dtype, the run dtype and the model's content
digest (:attr:`CompiledModel.digest`: every weight, not only the metadata).

dask is optional: nothing here imports it until a dask array is seen.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sortnet._dask import rebased, row_offset, whole_rows
from sortnet.errors import InputError


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

    X = whole_rows(X, model.n, chunk_rows, kinds="biuf")
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
        raise rebased(error, row_offset(block_info)) from None

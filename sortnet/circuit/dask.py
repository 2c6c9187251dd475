"""The circuit's dask engine: sort a ``dask.array`` lazily, one task per row chunk.

:func:`sortnet.sort` hands dask arrays to this module (a model's are handled by
:mod:`sortnet.nn.dask`; what both share is :mod:`sortnet._dask`). The array is
rechunked so that every chunk holds whole rows (one column chunk), and
:meth:`dask.array.Array.map_blocks` applies the network to each row chunk: one
network per task, nothing shared between tasks, so the same graph runs on the local
threaded scheduler or on a ``dask.distributed`` cluster.

Inside a task the compiled kernel runs single-threaded (``parallel=False``): dask
already runs one task per core, and nesting numba's thread pool in each task would
oversubscribe the cores. The client decides whether the batch is worth a compiled
kernel; a worker whose ``SORTNET_KERNEL`` is ``numpy`` (or that lacks numba) runs the
numpy executor instead, with the same results. Input checks (NaN) run per chunk, when
the graph is computed, and raise :class:`~sortnet.errors.InputError` from
``compute()``; each task knows the offset of its first row, so the error names the
row of the whole array.

Task keys: dask treats equal keys as equal results and computes them once, so a key
hashes everything that determines its result: the input array's key and chunks, the
network's comparators and output wires (k is in them once selected), the kind, the
dtype and the back end.

dask is optional: nothing here imports it until a dask array is seen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from sortnet._dask import whole_rows
from sortnet.circuit import kernels
from sortnet.errors import SortnetError
from sortnet.network import Network
from sortnet.select import select

KINDS = ("sort", "argsort")


def sort(
    X: Any,
    net: Any,
    task: Callable[..., np.ndarray],
    *,
    k: Any = None,
    chunk_rows: int | None = None,
    kind: str = "sort",
) -> Any:
    """Lazily sort the rows of a dask array with the comparator network ``net``.

    Parameters
    ----------
    X : dask.array.Array, shape (batch, n)
        Integer or floating rows; chunks may split rows (they are rechunked).
    net : Network
        A comparator network on ``n`` wires.
    task : callable
        ``task(block, net, backend, kind, block_info=None)``: runs the network on one
        chunk (the
        circuit's :func:`sortnet.circuit.run.run_block`, passed in so this module
        does not import the executor that imports it).
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
    >>> import dask.array as da, numpy as np, sortnet
    >>> net = sortnet.Network.from_comparators(3, [(0, 1), (1, 2), (0, 1)])
    >>> Y = sortnet.sort(da.from_array(np.array([[3, 1, 2], [9, 8, 7]]), chunks=(1, 2)), net)
    >>> Y.chunks, Y.compute().tolist()
    (((1, 1), (3,)), [[1, 2, 3], [7, 8, 9]])
    """
    from dask.base import tokenize

    if kind not in KINDS:
        raise SortnetError(f"kind must be 'sort' or 'argsort', got {kind!r}")
    if not isinstance(net, Network) or net.kind != "comparator":
        raise SortnetError("the circuit executor runs comparator networks only")
    if k is not None:
        net = select(net, k)
    X = whole_rows(X, net.n, chunk_rows)
    # Decide once for the whole batch: compile the kernel if the batch is large,
    # even though each task sees only one chunk.
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
        task,
        net,
        backend,
        kind,
        dtype=dtype,
        chunks=(X.chunks[0], (width,)),
        meta=np.empty((0, width), dtype),
        name=f"sortnet-{kind}-{token}",
    )

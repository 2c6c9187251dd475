"""The circuit executor: run a comparator network on a batch with exact min/max.

This is the reference the compiled neural models are tested against, so it never
rounds, and every comparator swaps its two values exactly when the second is smaller:
each output row is a permutation of its input row's bit patterns (no ``-0.0`` lost),
like the compiled kernels of :mod:`sortnet.circuit.kernels`. All the
per-block work goes through one private function, :func:`_sort_block`, so faster
back ends (numba straight-line kernels, dask blocks) plug in at one place.

Input policy, for :func:`sort` and :func:`argsort`:

* ``X`` has shape ``(batch, n)``; a 1-D array is refused (use ``X[None, :]`` for one
  row) so one shape contract holds across the executor, compiled models and ONNX.
* Integer and floating dtypes are accepted; the output keeps the input dtype. Bool,
  complex, object, string and datetime inputs are refused.
* NaN is refused (``InputError`` naming the first row), because a comparator has no
  consistent answer for it; ``+inf``/``-inf`` are ordered and allowed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sortnet import _dask, nodes
from sortnet._args import positive_int
from sortnet.circuit import dask, kernels
from sortnet.errors import InputError, SortnetError
from sortnet.network import Network
from sortnet.select import KSpec, select

#: Default bytes per block (rows are processed this many at a time, cache-sized).
BLOCK_BYTES = 1 << 21


def sort(
    X: Any, net: Network, *, k: KSpec | None = None, chunk_rows: int | None = None
) -> np.ndarray:
    """Sort each row of ``X`` with the comparator network ``net``.

    Parameters
    ----------
    X : array_like, shape (batch, n)
        Rows to sort; integer or floating dtype, no NaN (``inf`` is fine).
    net : Network
        A comparator network on ``n`` wires.
    k : int or {"median", "min", "max"}, optional
        Return only the k-th smallest of each row (1-based), shape ``(batch, 1)``;
        the network is pruned with :func:`sortnet.select` first.
    chunk_rows : int, optional
        Rows per block of the numpy executor (default: about 2 MB per block); bounds
        the extra memory. A positive integer; the compiled kernels need no blocks.

    Returns
    -------
    numpy.ndarray
        ``(batch, len(net.outputs))`` in output-position order (``(batch, n)`` for a
        sorting network, descending if the network is), same dtype as ``X``.

    Examples
    --------
    >>> net = Network.from_comparators(4, [(0, 1), (2, 3), (0, 2), (1, 3), (1, 2)])
    >>> sort([[3, -1, 2, 2], [0.5, 9, -4, 1]], net)
    array([[-1. ,  2. ,  2. ,  3. ],
           [-4. ,  0.5,  1. ,  9. ]])
    >>> sort(np.array([[3, -1, 2, 7]]), net, k=2)
    array([[2]])
    """
    # Checked here, before any back end is chosen: a compiled kernel ignores it.
    chunk_rows = positive_int(chunk_rows, "chunk_rows")
    if _dask.is_dask_array(X):  # lazy: one task per row chunk
        return dask.sort(X, net, run_block, k=k, chunk_rows=chunk_rows)
    X = check_input(X, net, nan=False)
    if k is not None:
        net = select(net, k)
    # The C kernel finds NaN as it loads the rows; the answer is passed on, so that the
    # kernel this call runs is the one the check was skipped for.
    on_native = kernels.native_runs(X, net)
    if not on_native:
        check_nan(X)
    out = np.empty((X.shape[0], len(net.outputs)), dtype=X.dtype)
    if kernels.sort_into(X, net, out, native_call=on_native):  # a compiled kernel, all cores
        return out
    for start, stop in _chunks(X, chunk_rows):
        out[start:stop] = _sort_block(X[start:stop], net)
    return out


def argsort(
    X: Any, net: Network, *, k: KSpec | None = None, chunk_rows: int | None = None
) -> np.ndarray:
    """Indices that sort each row of ``X`` through ``net``; stable (ties keep index order).

    The network compares ``(value, index)`` pairs, so for a sorting network the result
    equals ``np.argsort(X, axis=1, kind="stable")`` (reversed for a descending one).

    Parameters
    ----------
    X : array_like, shape (batch, n)
        Rows; same rules as :func:`sort`.
    net : Network
        A comparator network on ``n`` wires.
    k : int or {"median", "min", "max"}, optional
        Return only the index of the k-th smallest, shape ``(batch, 1)``.
    chunk_rows : int, optional
        Rows per block (a positive integer), as in :func:`sort`.

    Returns
    -------
    numpy.ndarray of numpy.intp
        ``(batch, len(net.outputs))``: the input column landing at each output.

    Examples
    --------
    >>> net = Network.from_comparators(3, [(0, 1), (1, 2), (0, 1)])
    >>> argsort([[5, 1, 5], [2, 2, 2]], net)
    array([[1, 0, 2],
           [0, 1, 2]])
    """
    chunk_rows = positive_int(chunk_rows, "chunk_rows")
    if _dask.is_dask_array(X):
        return dask.sort(X, net, run_block, k=k, chunk_rows=chunk_rows, kind="argsort")
    X = check_input(X, net, nan=False)
    if k is not None:
        net = select(net, k)
    on_native = kernels.native_runs(X, net, kind="argsort")
    if not on_native:
        check_nan(X)
    out = np.empty((X.shape[0], len(net.outputs)), dtype=np.intp)
    if kernels.argsort_into(X, net, out, native_call=on_native):
        return out
    for start, stop in _chunks(X, chunk_rows):
        out[start:stop] = _argsort_block(X[start:stop], net)
    return out


def _sort_block(block: np.ndarray, net: Network) -> np.ndarray:
    """Outputs of ``net`` on one block of rows: the single place a faster kernel plugs in.

    Each comparator swaps exactly when the second value is smaller. ``np.minimum`` and
    ``np.maximum`` compute that, bit for bit, whenever equal values have equal bits,
    which fails only for ``-0.0`` against ``0.0`` (they return one of them as both
    outputs, so a sign is lost). Rows holding zeros of both signs are therefore run
    with the explicit ``swap = b < a`` form, and only those: it is about 5x slower
    than min/max (1M x 16 float32, best network: 2.0 s against 0.40 s on a loaded
    machine), while finding those rows costs one ``== 0`` pass (2-4%).
    """
    mixed = _rows_with_both_zeros(block)
    if mixed is None:
        return _minmax_block(block, net)
    if mixed.all():
        return _swap_block(block, net)
    out = _minmax_block(block, net)
    out[mixed] = _swap_block(block[mixed], net)
    return out


def _minmax_block(block: np.ndarray, net: Network) -> np.ndarray:
    """``net`` with min/max: exact unless a row holds both zeros (see :func:`_sort_block`).

    Columns live in a column-major copy; a comparator writes the minimum into a spare
    column and the maximum in place, then the spare and the old column swap roles, so
    each comparator costs two vectorised passes and no allocation.
    """
    work = np.array(block, order="F", copy=True)
    columns = [work[:, wire] for wire in range(work.shape[1])]
    spare = np.empty(block.shape[0], dtype=block.dtype)
    for i, j in net.comparators:
        np.minimum(columns[i], columns[j], out=spare)
        np.maximum(columns[i], columns[j], out=columns[j])
        columns[i], spare = spare, columns[i]
    return np.stack([columns[wire] for wire in net.output_wires], axis=1)


def _swap_block(block: np.ndarray, net: Network) -> np.ndarray:
    """``net`` with ``swap = b < a``: equal values (``-0.0``, ``0.0``) stay where they are."""
    columns = [block[:, wire] for wire in range(block.shape[1])]
    for i, j in net.comparators:
        a, b = columns[i], columns[j]
        swap = b < a
        columns[i], columns[j] = np.where(swap, b, a), np.where(swap, a, b)
    return np.stack([columns[wire] for wire in net.output_wires], axis=1)


def _rows_with_both_zeros(block: np.ndarray) -> np.ndarray | None:
    """Mask of the rows holding both ``-0.0`` and ``0.0``; None when there are none.

    For integers, and for floats without NaN (refused before this), equal values
    have equal bit patterns except for the two zeros, so these are exactly the rows
    where min/max could lose a bit pattern.
    """
    if block.dtype.kind != "f":
        return None
    zeros = block == 0
    if not zeros.any():  # the usual case: one cheap pass
        return None
    negative = np.signbit(block) & zeros
    mixed = negative.any(axis=1) & (zeros & ~negative).any(axis=1)
    return mixed if mixed.any() else None


def _argsort_block(block: np.ndarray, net: Network) -> np.ndarray:
    """Carry each value's index through the network; ties are broken by index."""
    values = [block[:, wire].copy() for wire in range(block.shape[1])]
    index = [np.full(block.shape[0], wire, dtype=np.intp) for wire in range(block.shape[1])]
    for i, j in net.comparators:
        a, b = values[i], values[j]
        swap = (b < a) | ((b == a) & (index[j] < index[i]))
        values[i], values[j] = np.where(swap, b, a), np.where(swap, a, b)
        index[i], index[j] = np.where(swap, index[j], index[i]), np.where(swap, index[i], index[j])
    return np.stack([index[wire] for wire in net.output_wires], axis=1)


def _chunks(X: np.ndarray, chunk_rows: int | None) -> list[tuple[int, int]]:
    # chunk_rows was checked by positive_int at the entry point.
    if chunk_rows is None:
        chunk_rows = max(256, BLOCK_BYTES // max(1, X.shape[1] * X.itemsize))
    return [(start, min(start + chunk_rows, len(X))) for start in range(0, len(X), chunk_rows)]


def check_input(X: Any, net: Network, *, nan: bool = True) -> np.ndarray:
    """Validate ``X`` against ``net``; return it as an ndarray (no copy when possible).

    ``nan=False`` leaves the NaN check to the caller (:func:`check_nan`): the
    precompiled kernels find NaN while they load the rows, saving a pass over ``X``.
    """
    if not isinstance(net, Network) or net.kind != nodes.COMPARATOR_KIND:
        raise SortnetError("the circuit executor runs comparator networks only")
    try:
        X = np.asarray(X)
    except ValueError as error:  # ragged nested lists
        raise InputError(f"X must be a rectangular (batch, n) array: {error}") from None
    if X.dtype.kind not in "iuf":
        raise InputError(
            f"X must have an integer or floating dtype, got {X.dtype}"
            + (" (cast booleans with X.astype(int))" if X.dtype.kind == "b" else "")
        )
    if X.ndim != 2:
        hint = "; for one row use X[None, :]" if X.ndim == 1 else ""
        raise InputError(f"X must have shape (batch, n={net.n}), got shape {X.shape}{hint}")
    if X.shape[1] != net.n:
        raise InputError(f"X has {X.shape[1]} columns but the network has n={net.n} wires")
    if nan:
        check_nan(X)
    return X


def check_nan(X: np.ndarray) -> None:
    """Refuse NaN in ``X``, naming the first row that holds one."""
    if X.dtype.kind == "f":
        for start, stop in _chunks(X, None):
            if not np.isnan(X[start:stop].min()):  # min propagates NaN: one fast pass
                continue
            bad = np.isnan(X[start:stop]).any(axis=1)
            if bad.any():
                raise InputError(f"X contains NaN at row {start + int(np.argmax(bad))}")


def run_block(
    block: np.ndarray, net: Any, backend: str, kind: str, block_info: Any = None
) -> np.ndarray:
    """One dask task: run ``net`` on one chunk of whole rows on the calling thread."""
    try:
        block = check_input(block, net)
    except InputError as error:
        raise _dask.rebased(error, _dask.row_offset(block_info)) from None
    dtype = np.intp if kind == "argsort" else block.dtype
    out = np.empty((block.shape[0], len(net.outputs)), dtype=dtype)
    block = np.ascontiguousarray(block)
    backend = _dask.task_backend(backend)
    if kernels.sort_into(block, net, out, backend=backend, parallel=False, kind=kind):
        return out
    run = argsort if kind == "argsort" else sort
    return run(block, net)

"""Top-k with indices through a comparator network: :func:`topk`.

Each row's ``k`` largest (or smallest) values and their column indices come out of
the top-k network of :func:`sortnet.generators.topk.topk_network`, run on ``(key,
index)`` pairs: a comparator puts the greater pair on its upper wire, where a pair is
greater when its key is, or when the keys are equal and its index is smaller. So ties
keep index order (a stable top-k, the first ``k`` columns of a stable descending
argsort), whatever the network.

The key of a value is an order-preserving unsigned integer image of it (no float
arithmetic, no rounding): for floats the bit pattern with the sign folded, with
``-0.0`` and ``0.0`` given the same key (they are equal, so they tie and keep index
order, as in ``np.argsort``); for signed integers the pattern with the sign bit
flipped; for unsigned integers the value; every bit is flipped for ``largest=False``.
Values are returned as the input's own bit patterns (``-0.0`` stays ``-0.0``).

Two engines give identical results: the compiled kernel of
:mod:`sortnet.circuit.topk_kernels` (numba, both cores) and a column-wise numpy path
(no numba, or ``SORTNET_KERNEL=numpy``). The choice follows ``SORTNET_KERNEL`` as
for :func:`sortnet.sort`.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from sortnet._args import positive_int
from sortnet.circuit import topk_kernels
from sortnet.errors import InputError
from sortnet.generators.topk import MAX_TOPK_N, check_topk_args, topk_network

#: Values per block of the numpy path (its working set: keys and, for 64-bit values, indices).
BLOCK_VALUES = 1 << 18
#: Narrow dtypes run as the 32-bit dtype holding them exactly.
_WIDEN = {"f2": np.float32, "i1": np.int32, "i2": np.int32, "u1": np.uint32, "u2": np.uint32}


def topk(
    X: Any, k: int, largest: bool = True, *, chunk_rows: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` largest (or smallest) values of each row and their indices, stable.

    Parameters
    ----------
    X : array_like, shape (batch, n)
        Rows; an integer or floating dtype (up to 64 bits), no NaN (``inf`` is fine),
        ``1 <= n <= 4096``.
    k : int
        How many values per row, ``1 <= k <= n``.
    largest : bool
        The ``k`` largest in descending order (default), or the ``k`` smallest in
        ascending order.
    chunk_rows : int, optional
        Rows per block of the numpy path (a positive integer; the kernel needs none).

    Returns
    -------
    values : numpy.ndarray, shape (batch, k)
        Same dtype as ``X``: the input's values (bit patterns) at ``indices``.
    indices : numpy.ndarray of numpy.intp, shape (batch, k)
        Columns of the selected values; equal values keep ascending column order.
        For float ``X``, exactly ``np.argsort(-X, axis=1, kind="stable")[:, :k]``
        (``largest=True``) or ``np.argsort(X, axis=1, kind="stable")[:, :k]``.

    Raises
    ------
    InputError
        NaN (naming the first row), a bad ``k``, ``largest`` or shape, a dtype that
        is not an integer or float of at most 64 bits.

    Examples
    --------
    >>> values, indices = topk([[3.0, 1.0, 3.0, 7.0]], 3)
    >>> values, indices
    (array([[7., 3., 3.]]), array([[3, 0, 2]]))
    >>> topk(np.array([[5, -2, 0, -2]]), 2, largest=False)
    (array([[-2, -2]]), array([[1, 3]]))
    >>> topk([[-0.0, 1.0, 0.0]], 3)  # -0.0 == 0.0: a tie, index order, signs kept
    (array([[ 1., -0.,  0.]]), array([[1, 0, 2]]))
    >>> topk([[1.0, float("nan")]], 1)
    Traceback (most recent call last):
    ...
    sortnet.errors.InputError: X contains NaN at row 0
    """
    chunk_rows = positive_int(chunk_rows, "chunk_rows")
    X = _check_input(X)
    n = X.shape[1]
    if n > MAX_TOPK_N:
        raise InputError(f"topk handles rows of up to n={MAX_TOPK_N} values, got n={n}")
    if n == 0 or isinstance(k, bool) or not hasattr(k, "__index__"):
        raise InputError(f"k must be an integer in 1..n={n}, got {k!r}")
    n, k = check_topk_args(n, k)
    if not isinstance(largest, (bool, np.bool_)):
        raise InputError(f"largest must be True or False, got {largest!r}")
    work = X if _work_dtype(X.dtype) == X.dtype else X.astype(_work_dtype(X.dtype))
    bits = work.dtype.itemsize * 8
    B = np.ascontiguousarray(work).view(topk_kernels.BITS[work.dtype.itemsize])
    mode = _mode(work.dtype, bool(largest))
    ci, cj, wires = schedule(n, k)
    V = np.empty((X.shape[0], k), B.dtype)
    indices = np.empty((X.shape[0], k), np.intp)
    if X.shape[0] and topk_kernels.use_kernel(work):
        topk_kernels.topk_into(B, (ci, cj), wires, mode, V, indices)
    else:
        step = chunk_rows or max(1, BLOCK_VALUES // n)
        for start in range(0, X.shape[0], step):
            block = slice(start, start + step)
            indices[block] = _numpy_block(B[block], ci, cj, wires, mode, bits)
            V[block] = np.take_along_axis(B[block], indices[block], axis=1)
    if work is X or work.dtype == X.dtype:
        return V.view(X.dtype), indices
    return np.take_along_axis(X, indices, axis=1), indices


def prepare(X: np.ndarray) -> None:
    """Compile (or load) the kernel :func:`topk` would run on ``X``, if the whole batch deserves it.

    For callers that run a large input a block at a time (the ``sortnet topk`` command):
    the back-end choice of ``auto`` mode is made once, from the whole input, as in
    ``sortnet sort``; once compiled, every block uses the kernel.

    Examples
    --------
    >>> prepare(np.zeros((2, 3), np.float32))  # small: nothing to compile
    """
    if X.dtype.kind in "iuf" and X.dtype.itemsize <= 8:
        dtype = _work_dtype(X.dtype)
        if topk_kernels.use_kernel(np.empty((0, 0), dtype)[:0], size=X.size):
            topk_kernels.get_kernel(8 * dtype.itemsize)


def _work_dtype(dtype: np.dtype) -> np.dtype:
    """The native 32- or 64-bit dtype a batch of ``dtype`` runs as (narrow ones widened)."""
    wide = np.dtype(_WIDEN.get(dtype.str[1:], dtype))
    return wide.newbyteorder("=")


@functools.lru_cache(maxsize=64)
def schedule(n: int, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The top-k network's comparators ``(ci, cj)`` and output wires (largest first), as arrays.

    Examples
    --------
    >>> ci, cj, wires = schedule(4, 2)
    >>> list(zip(ci.tolist(), cj.tolist())), wires.tolist()
    ([(0, 1), (2, 3), (0, 3), (1, 2), (2, 3)], [3, 2])
    """
    net = topk_network(n, k)
    pairs = np.array(net.comparators, dtype=np.int64).reshape(-1, 2)
    wires = np.array([net.outputs[n - 1 - r] for r in range(k)], dtype=np.int64)
    arrays = (np.ascontiguousarray(pairs[:, 0]), np.ascontiguousarray(pairs[:, 1]), wires)
    for array in arrays:
        array.flags.writeable = False
    return arrays


def _mode(dtype: np.dtype, largest: bool) -> np.ndarray:
    """The kernel's key flags ``(is_float, sign bit to flip, flip all for smallest)``."""
    bits = dtype.itemsize * 8
    sign = 0 if dtype.kind == "u" else 1 << (bits - 1)
    flip = 0 if largest else (1 << bits) - 1
    return np.array([int(dtype.kind == "f"), sign, flip], dtype=np.uint64)


def _keys(U: np.ndarray, mode: np.ndarray) -> np.ndarray:
    """The order-preserving unsigned keys of bit patterns ``U`` (the kernel's rule, in numpy)."""
    kind = U.dtype.type
    top = kind(U.dtype.itemsize * 8 - 1)
    is_float, sign, flip = (kind(value) for value in mode)
    fold = (kind(0) - ((U >> top) & is_float)) & (kind(~sign) if sign else kind(0))
    keys = U ^ fold
    keys += (keys >> top) & is_float  # -0.0 folds to all ones: wrap it onto 0.0's key
    return keys ^ (sign ^ flip)  # type: ignore[no-any-return]


def _numpy_block(
    B: np.ndarray, ci: np.ndarray, cj: np.ndarray, wires: np.ndarray, mode: np.ndarray, bits: int
) -> np.ndarray:
    """Indices of the top k of one block, the network run column by column."""
    n = B.shape[1]
    keys = _keys(B, mode)
    with np.errstate(over="ignore"):
        if bits == 32:  # (key << 32) | ~column: one unsigned word, compared with min/max
            low = np.uint64(0xFFFFFFFF)
            packed = (keys.astype(np.uint64) << np.uint64(32)) | (
                low ^ np.arange(n, dtype=np.uint64)
            )
            columns = list(np.asfortranarray(packed).T)
            spare = np.empty(B.shape[0], np.uint64)
            for i, j in zip(ci.tolist(), cj.tolist(), strict=True):
                np.minimum(columns[i], columns[j], out=spare)
                np.maximum(columns[i], columns[j], out=columns[j])
                columns[i], spare = spare, columns[i]
            return np.stack([low ^ (columns[w] & low) for w in wires.tolist()], axis=1).astype(
                np.intp
            )
    key_columns = list(np.asfortranarray(keys).T)
    index = [np.full(B.shape[0], w, dtype=np.intp) for w in range(n)]
    for i, j in zip(ci.tolist(), cj.tolist(), strict=True):
        a, b = key_columns[i], key_columns[j]
        swap = (a > b) | ((a == b) & (index[i] < index[j]))
        key_columns[i], key_columns[j] = np.where(swap, b, a), np.where(swap, a, b)
        index[i], index[j] = np.where(swap, index[j], index[i]), np.where(swap, index[i], index[j])
    return np.stack([index[w] for w in wires.tolist()], axis=1)


def _check_input(X: Any) -> np.ndarray:
    """``X`` as a ``(batch, n)`` integer or float array without NaN, else an InputError."""
    try:
        X = np.asarray(X)
    except ValueError as error:  # ragged nested lists
        raise InputError(f"X must be a rectangular (batch, n) array: {error}") from None
    if X.dtype.kind not in "iuf" or X.dtype.itemsize > 8:
        raise InputError(
            f"X must have an integer or floating dtype of at most 64 bits, got {X.dtype}"
            + (" (cast booleans with X.astype(int))" if X.dtype.kind == "b" else "")
        )
    if X.ndim != 2:
        hint = "; for one row use X[None, :]" if X.ndim == 1 else ""
        raise InputError(f"X must have shape (batch, n), got shape {X.shape}{hint}")
    if X.dtype.kind == "f" and X.size:
        step = max(1, BLOCK_VALUES // max(1, X.shape[1]))
        for start in range(0, X.shape[0], step):
            block = X[start : start + step]
            if not np.isnan(block.min()):  # min propagates NaN: one fast pass
                continue
            bad = np.isnan(block).any(axis=1)
            raise InputError(f"X contains NaN at row {start + int(np.argmax(bad))}")
    return X

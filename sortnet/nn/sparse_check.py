"""Structure checks of sparse matrices, made before scipy or a numba kernel indexes them.

scipy checks only the lengths of a CSR matrix's arrays when it builds one; its
sparse routines (conversion, products, ``sum_duplicates``) and the model kernels
then index memory with the stored column indices and row pointers. An index out of
range reads or writes outside the matrix (a crash, not an error), so every matrix
from outside (a model file, a hand-built :class:`~sortnet.nn.layer.Layer`) is checked
here first.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["check_sparse", "csr_problem"]


def csr_problem(
    indptr: np.ndarray, indices: np.ndarray, nnz: int, shape: tuple[int, int]
) -> str | None:
    """Why ``(indptr, indices)`` with ``nnz`` values is not a valid CSR matrix of ``shape``.

    None when it is valid. scipy checks only lengths when it builds a CSR array, and
    its sparse routines and the numba kernels index memory with these arrays: an index
    out of range reads (or writes) outside the matrix, so it must be refused first.

    Examples
    --------
    >>> csr_problem(np.array([0, 1, 2]), np.array([0, 1]), 2, (2, 2)) is None
    True
    >>> csr_problem(np.array([0, 1, 2]), np.array([0, 5]), 2, (2, 2))
    'column index 5 outside 0..1'
    """
    rows, columns = shape
    if indptr.ndim != 1 or indptr.size != rows + 1:
        return f"indptr has {indptr.size} entries for {rows} rows (needs rows + 1)"
    if indices.ndim != 1 or indices.size != nnz:
        return f"{indices.size} column indices for {nnz} values"
    if indptr[0] != 0 or indptr[-1] != nnz:
        return f"indptr runs from {indptr[0]} to {indptr[-1]}, not from 0 to {nnz} values"
    if rows and np.any(np.diff(indptr) < 0):
        return "indptr decreases"
    if nnz:
        low, high = int(indices.min()), int(indices.max())
        if low < 0 or high >= columns:
            return f"column index {low if low < 0 else high} outside 0..{columns - 1}"
    return None


def check_sparse(value: Any, name: str) -> Any:
    """``value`` (any scipy sparse form) with its index arrays checked before scipy uses them.

    Compressed forms (CSR, CSC, BSR) are checked as they are: converting them indexes
    memory with their indices. Other forms go through COO, whose conversion copies
    indices without using them, and its coordinates are checked.
    """
    form = getattr(value, "format", None)
    rows, columns = (int(extent) for extent in value.shape)
    if form in ("csr", "csc", "bsr"):
        major, minor = (rows, columns) if form != "csc" else (columns, rows)
        if form == "bsr":
            block_rows, block_columns = value.blocksize
            major, minor = major // block_rows, minor // block_columns
        problem = csr_problem(
            np.asarray(value.indptr), np.asarray(value.indices), len(value.data), (major, minor)
        )
    else:
        value = value.tocoo()
        row, column = np.asarray(value.row), np.asarray(value.col)
        if not row.size == column.size == len(value.data):
            problem = f"{row.size} rows and {column.size} columns for {len(value.data)} values"
        elif ((row < 0) | (row >= rows) | (column < 0) | (column >= columns)).any():
            problem = "an entry lies outside the matrix"
        else:
            problem = None
    if problem is not None:
        raise ValueError(f"{name} is not a valid sparse matrix: {problem}")
    return value

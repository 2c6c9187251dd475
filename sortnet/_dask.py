"""What the two runtimes' dask engines share: recognising a dask array, whole-row chunks.

:mod:`sortnet.circuit.dask` sorts a ``dask.array`` with a network and
:mod:`sortnet.nn.dask` runs a model on one; both need a task to see whole rows, so
the array is checked to be ``(batch, width)`` and rechunked to one column chunk here.
Like :mod:`sortnet._jit`, this module sits below both runtimes and imports nothing of
sortnet but :mod:`sortnet.errors` (ARCHITECTURE.md, "Import rules").

dask is optional: nothing here imports it until a dask array is seen.
"""

from __future__ import annotations

import re
from typing import Any

from sortnet._jit import choose_backend
from sortnet.errors import InputError

__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "is_dask_array",
    "rebased",
    "row_offset",
    "task_backend",
    "whole_rows",
]

#: Rows per chunk when a chunk has to be chosen (about 64 MB of float32 at n=16).
DEFAULT_CHUNK_ROWS = 1 << 20

# Row numbers in the executors' messages: "at row 5", "X[5, 2] = ...". A task shifts
# them by its block's offset; tests/test_dask.py checks every message that has one, so
# a reworded message cannot silently go back to numbering rows within the chunk.
_ROW_REFERENCE = re.compile(r"(\bat row |\bX\[)(\d+)")


def is_dask_array(X: Any) -> bool:
    """Whether ``X`` is a ``dask.array.Array`` (without importing dask otherwise).

    Examples
    --------
    >>> import numpy as np
    >>> is_dask_array(np.zeros((2, 3)))
    False
    """
    if not type(X).__module__.startswith("dask."):
        return False
    import dask.array as da

    return isinstance(X, da.Array)


def whole_rows(X: Any, width: int, chunk_rows: int | None, kinds: str = "iuf") -> Any:
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


def row_offset(block_info: Any) -> int:
    """The row of the whole array where this task's block starts (``map_blocks`` tells)."""
    if not block_info:  # called outside map_blocks
        return 0
    return int(block_info[0]["array-location"][0][0])


def rebased(error: InputError, offset: int) -> InputError:
    """``error`` with its row numbers counted from the first row of the whole array.

    Examples
    --------
    >>> rebased(InputError("X contains NaN at row 3, column 1"), 50)
    InputError('X contains NaN at row 53, column 1')
    >>> rebased(InputError("X[2, 0] = 1e+300 is outside the range of float32"), 50)
    InputError('X[52, 0] = 1e+300 is outside the range of float32')
    """
    message = _ROW_REFERENCE.sub(
        lambda match: f"{match.group(1)}{int(match.group(2)) + offset}", str(error)
    )
    return InputError(message)


def task_backend(chosen: str) -> str:
    """The back end on this process: the client's choice unless this worker overrides it.

    A worker with ``SORTNET_KERNEL=numpy``, or without numba, never compiles; one with
    ``SORTNET_KERNEL=numba`` always does; ``auto`` follows the client, which saw the
    size of the whole batch.
    """
    local = choose_backend()
    return chosen if local == "auto" else local

"""What the two runtimes' dask engines share: recognising a dask array, whole-row chunks.

:mod:`sortnet.circuit.dask` sorts a ``dask.array`` with a network and
:mod:`sortnet.nn.dask` runs a model on one; both need a task to see whole rows, so
the array is checked to be ``(batch, width)`` and rechunked to one column chunk here.
Like :mod:`sortnet._jit`, this module sits below both runtimes and imports nothing of
sortnet but :mod:`sortnet.errors` (ARCHITECTURE.md, "Import rules").

dask is optional: nothing here imports it until a dask array is seen.
"""

from __future__ import annotations

from typing import Any

from sortnet.errors import InputError

__all__ = ["DEFAULT_CHUNK_ROWS", "is_dask_array", "whole_rows"]

#: Rows per chunk when a chunk has to be chosen (about 64 MB of float32 at n=16).
DEFAULT_CHUNK_ROWS = 1 << 20


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


def whole_rows(X: Any, width: int, chunk_rows: int | None) -> Any:
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

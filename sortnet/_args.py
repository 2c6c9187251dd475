"""Validation of the tuning arguments every executor takes (``chunk_rows``, ``threads``).

One function, so :func:`sortnet.sort`, :func:`sortnet.argsort`, ``model(X)`` and the
dask engine accept and refuse exactly the same values with the same message, whichever
back end ends up running (a compiled kernel that ignores ``chunk_rows`` still checks it).
"""

from __future__ import annotations

import numbers
from typing import Any

from sortnet.errors import InputError


def positive_int(value: Any, name: str) -> int | None:
    """``value`` as an ``int`` if it is a positive integer; ``None`` stays ``None``.

    Booleans, floats (even ``2.0``), strings and numbers below 1 are refused: a
    silent conversion (``int("10")``, ``int(1.5)``) or clamp would hide a mistake.

    Parameters
    ----------
    value : int or None
        The argument as the caller passed it (numpy integers are accepted).
    name : str
        The argument's name, for the message.

    Returns
    -------
    int or None

    Raises
    ------
    InputError
        ``"<name> must be a positive integer, got <value>"``.

    Examples
    --------
    >>> positive_int(8, "threads"), positive_int(None, "threads")
    (8, None)
    >>> positive_int(0, "chunk_rows")
    Traceback (most recent call last):
    ...
    sortnet.errors.InputError: chunk_rows must be a positive integer, got 0
    >>> positive_int("10", "chunk_rows")
    Traceback (most recent call last):
    ...
    sortnet.errors.InputError: chunk_rows must be a positive integer, got '10' (str)
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputError(
            f"{name} must be a positive integer, got {value!r} ({type(value).__name__})"
        )
    if value < 1:
        raise InputError(f"{name} must be a positive integer, got {value!r}")
    return int(value)

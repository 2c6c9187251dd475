"""Rows of numbers as text (stdin and stdout) for ``sortnet sort`` and ``sortnet run``.

The rule for reading keeps every number exact, or refuses it; nothing is rounded
silently:

* A token made of digits (with an optional sign) is an integer; any other number
  (``0.5``, ``1e23``, ``2.0``, ``inf``) is a float.
* When every token is an integer that fits int64, the rows are int64 and print as
  integers.
* Otherwise every number is read as float64, and each must survive that exactly:
  an integer must be a float64 value (``9007199254740993`` is not, so it is refused
  once the input also holds a float), and a float token must print back as the
  same number (``0.1`` and ``1e23`` do: that is the standard float reading; but
  ``9007199254740993.0`` has more digits than float64 keeps and is refused).
  ``1e400`` (past float64) and NaN are refused too.

Errors name the line (counting comments and blank lines) and the column (1-based).
Floats print as the shortest decimal that reads back, as float64, to exactly the
same value (Python's ``repr``), so ``-0.0`` stays ``-0.0``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from decimal import Decimal
from typing import TextIO

import numpy as np

from sortnet.errors import InputError

_INT64 = (-(2**63), 2**63)
#: Values formatted per string built, so text output never holds a giant string.
TEXT_CHUNK_VALUES = 1 << 16


def read_rows(stream: TextIO, n: int) -> np.ndarray:
    """Parse text rows of ``n`` numbers, exactly (see the module notes); errors name the line.

    Numbers are separated by whitespace or commas; blank lines and ``#`` comments are
    skipped.

    Examples
    --------
    >>> import io
    >>> read_rows(io.StringIO("3 1 2\\n# comment\\n4,-5, 6\\n"), 3)
    array([[ 3,  1,  2],
           [ 4, -5,  6]])
    >>> read_rows(io.StringIO("9007199254740993 1\\n"), 2)
    array([[9007199254740993,                1]])
    >>> read_rows(io.StringIO("9007199254740993 1\\n0.5 2\\n"), 2)
    Traceback (most recent call last):
    ...
    sortnet.errors.InputError: line 1, column 1: 9007199254740993 is not exactly a float64, which this input needs (line 2, column 1 holds the non-integer 0.5); sortnet does not round
    >>> read_rows(io.StringIO("1 2 x\\n"), 3)
    Traceback (most recent call last):
    ...
    sortnet.errors.InputError: line 1, column 3: 'x' is not a number
    """  # noqa: E501
    rows: list[list[int | float]] = []
    # Where each integer float64 might not hold sits (|v| > 2**53), to name it if the
    # batch has to be float64; smaller integers are always exact there.
    integers: list[tuple[int, int, str, int]] = []
    first_float: tuple[int, int, str] | None = None
    fits_int64 = True
    for number, line in enumerate(_lines(stream), start=1):
        tokens = line.split("#", 1)[0].replace(",", " ").split()
        if not tokens:
            continue
        if len(tokens) != n:
            raise InputError(f"line {number}: expected {n} numbers (n={n}), got {len(tokens)}")
        row: list[int | float] = []
        for column, token in enumerate(tokens, start=1):
            value = _parse(token, number, column)
            if isinstance(value, int):
                if abs(value) > 2**53:
                    integers.append((number, column, token, value))
                    fits_int64 = fits_int64 and _INT64[0] <= value < _INT64[1]
            elif first_float is None:
                first_float = (number, column, token)
            row.append(value)
        rows.append(row)
    if not rows:
        return np.empty((0, n), dtype=np.int64)
    if first_float is None and fits_int64:
        return np.array(rows, dtype=np.int64)
    for number, column, token, value in integers:
        if int(float(value)) != value:  # float64 would hold a different number: refuse
            if first_float is None:
                why = "does not fit in int64 and is not exactly a float64"
            else:
                at, col, text = first_float
                why = (
                    "is not exactly a float64, which this input needs "
                    f"(line {at}, column {col} holds the non-integer {text})"
                )
            raise InputError(
                f"line {number}, column {column}: {token} {why}; sortnet does not round"
            )
    return np.array(rows, dtype=np.float64)


def _parse(token: str, number: int, column: int) -> int | float:
    """One token as an exact int, or a float that prints back as the same number."""
    where = f"line {number}, column {column}"
    try:
        return int(token)
    except ValueError:
        pass
    try:
        value = float(token)
    except ValueError:
        raise InputError(f"{where}: {token!r} is not a number") from None
    if math.isnan(value):
        raise InputError(f"{where}: NaN cannot be sorted (inf is fine)")
    if math.isinf(value):
        if "inf" not in token.lower():
            raise InputError(f"{where}: {token} is too large for float64 (max ~1.8e308)")
        return value
    # The cheap test first; Decimal compares the numbers, not their spelling (1e23, 1E+23).
    if repr(value) != token and Decimal(repr(value)) != Decimal(token):
        raise InputError(
            f"{where}: {token} has more digits than float64 holds (it would be read as "
            f"{value!r}); sortnet does not round"
        )
    return value


def _lines(stream: TextIO) -> Iterator[str]:
    """The lines of ``stream``; binary data on stdin is a clear error, not a traceback."""
    try:
        yield from stream
    except UnicodeDecodeError:
        raise InputError(
            "the input is not text: give rows of numbers, or a .npy file with --input"
        ) from None


def format_rows(Y: np.ndarray) -> str:
    """Rows as space-separated text: integers as integers, floats with ``repr`` (exact).

    Examples
    --------
    >>> print(format_rows(np.array([[-0.0, 0.1, 1e30], [2.0, np.inf, -5e-324]])), end="")
    -0.0 0.1 1e+30
    2.0 inf -5e-324
    >>> print(format_rows(np.array([[2**63 - 1, -3]])), end="")
    9223372036854775807 -3
    """
    if Y.size == 0:
        return "\n" * Y.shape[0]
    # "%r" of a Python float is its shortest exact repr; "%d" of a Python int is exact.
    code = "%d" if Y.dtype.kind in "iu" else "%r"
    line = " ".join([code] * Y.shape[1]) + "\n"
    return (line * Y.shape[0]) % tuple(Y.ravel().tolist())


def write_rows(stream: TextIO, Y: np.ndarray) -> None:
    """Write rows to ``stream`` as :func:`format_rows` text, a bounded chunk at a time.

    Examples
    --------
    >>> import sys
    >>> write_rows(sys.stdout, np.array([[1.5, -0.0]], dtype=np.float32))
    1.5 -0.0
    """
    step = max(1, TEXT_CHUNK_VALUES // max(1, Y.shape[1]))
    for start in range(0, Y.shape[0], step):
        stream.write(format_rows(Y[start : start + step]))

"""``sortnet sort FAMILY N | FILE [--input X] [--output Y] [--k K]``: sort rows of numbers.

Rows come from stdin (``-``, the default) as text, one row per line, numbers separated
by whitespace or commas (blank lines and ``#`` comments skipped), or from a ``.npy``
file of shape ``(batch, n)``. Sorted rows go to stdout as text, or to a ``.npy`` file
written atomically (temporary file, then rename). Integer text stays integer.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from sortnet.circuit import sort
from sortnet.cli._common import add_network_arguments, network_from_args
from sortnet.cli.verify_cmd import parse_k
from sortnet.errors import InputError, SortnetError


def register(subparsers: Any) -> None:
    """Add the ``sort`` subcommand."""
    parser = subparsers.add_parser(
        "sort",
        help="sort rows of numbers with a network (exact min/max circuit)",
        description="Sort each row of numbers with the comparator network FAMILY N or FILE.",
    )
    add_network_arguments(parser)
    parser.add_argument(
        "--input",
        default="-",
        metavar="X.npy|-",
        help="rows to sort: a .npy file of shape (batch, n), or '-' for text on stdin "
        "(whitespace or comma separated; the default)",
    )
    parser.add_argument(
        "--output",
        default="-",
        metavar="Y.npy|-",
        help="where to write: a .npy file, or '-' for text on stdout (the default)",
    )
    parser.add_argument(
        "--k", help="output only the k-th smallest of each row (1-based, or median, min, max)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Read, sort and write; exit code 0 (user mistakes propagate to main)."""
    net = network_from_args(args)
    k = parse_k(args.k)
    X = read_rows(sys.stdin, net.n) if args.input == "-" else read_npy(args.input, net.n)
    Y = sort(X, net, k=k)
    if args.output == "-":
        write_rows(sys.stdout, Y)
    else:
        write_npy(args.output, Y)
    return 0


def read_rows(stream: TextIO, n: int) -> np.ndarray:
    """Parse text rows of ``n`` numbers; errors name the line.

    Examples
    --------
    >>> import io
    >>> read_rows(io.StringIO("3 1 2\\n# comment\\n4,-5, 6\\n"), 3)
    array([[ 3,  1,  2],
           [ 4, -5,  6]])
    >>> read_rows(io.StringIO("1 2 x\\n"), 3)
    Traceback (most recent call last):
    ...
    sortnet.errors.InputError: line 1: 'x' is not a number
    """
    rows: list[list[str]] = []
    for number, line in enumerate(stream, start=1):
        text = line.split("#", 1)[0].replace(",", " ").split()
        if not text:
            continue
        if len(text) != n:
            raise InputError(f"line {number}: expected {n} numbers (n={n}), got {len(text)}")
        for token in text:
            try:
                value = float(token)
            except ValueError:
                raise InputError(f"line {number}: {token!r} is not a number") from None
            if math.isnan(value):
                raise InputError(f"line {number}: NaN cannot be sorted (inf is fine)")
        rows.append(text)
    if not rows:
        return np.empty((0, n), dtype=np.int64)
    try:
        return np.array([[int(token) for token in row] for row in rows], dtype=np.int64)
    except (ValueError, OverflowError):  # some token is a float (or a huge integer)
        return np.array(rows, dtype=np.float64)


def read_npy(path: str, n: int) -> np.ndarray:
    """Load a ``(batch, n)`` array from a ``.npy`` file (no pickles)."""
    try:
        X = np.load(path, allow_pickle=False)
    except ValueError as error:
        raise InputError(f"{path}: not a numeric .npy array ({error})") from None
    if not isinstance(X, np.ndarray):
        raise InputError(f"{path}: expected a .npy array, got a {type(X).__name__}")
    return X


def write_rows(stream: TextIO, Y: np.ndarray) -> None:
    """Write rows as space-separated text (``repr`` precision for floats)."""
    for row in Y.tolist():
        stream.write(" ".join(repr(value) for value in row) + "\n")


def write_npy(path: str, Y: np.ndarray) -> None:
    """Write ``Y`` to ``path`` atomically: a temporary file in the same folder, renamed."""
    target = Path(path)
    if target.suffix != ".npy":
        raise SortnetError(f"--output must end in .npy (or be '-'), got {path!r}")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise SortnetError(f"--output folder does not exist: {str(folder)!r}")
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            np.save(stream, Y)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise

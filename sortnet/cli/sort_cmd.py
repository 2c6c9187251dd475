"""``sortnet sort FAMILY N | FILE [--input X] [--output Y] [--k K]``: sort rows of numbers.

Rows come from stdin (``-``, the default) as text, one row per line, numbers separated
by whitespace or commas (blank lines and ``#`` comments skipped), or from a ``.npy``
file of shape ``(batch, n)``. Sorted rows go to stdout as text, or to a ``.npy`` file
written atomically (temporary file, then rename). Integer text stays integer.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from sortnet.circuit.run import sort
from sortnet.cli._common import add_network_arguments, network_from_args
from sortnet.cli.verify_cmd import parse_k
from sortnet.errors import InputError, SortnetError
from sortnet.io.atomic import atomic_write, check_target


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
    if args.output != "-":
        npy_target(args.output)  # a bad --output fails before any work
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
    for number, line in enumerate(_lines(stream), start=1):
        text = line.split("#", 1)[0].replace(",", " ").split()
        if not text:
            continue
        if len(text) != n:
            raise InputError(f"line {number}: expected {n} numbers (n={n}), got {len(text)}")
        for token in text:
            _check_token(token, number)
        rows.append(text)
    if not rows:
        return np.empty((0, n), dtype=np.int64)
    try:
        return np.array([[int(token) for token in row] for row in rows], dtype=np.int64)
    except ValueError:  # some token is a float: the batch is float64
        return np.array(rows, dtype=np.float64)


def _lines(stream: TextIO) -> Iterator[str]:
    """The lines of ``stream``; binary data on stdin is a clear error, not a traceback."""
    try:
        yield from stream
    except UnicodeDecodeError:
        raise InputError(
            "the input is not text: give rows of numbers, or a .npy file with --input"
        ) from None


def _check_token(token: str, number: int) -> None:
    """Refuse a token that is not a number, or whose value would change on reading."""
    try:
        value = float(token)
    except ValueError:
        raise InputError(f"line {number}: {token!r} is not a number") from None
    if math.isnan(value):
        raise InputError(f"line {number}: NaN cannot be sorted (inf is fine)")
    if math.isinf(value) and "inf" not in token.lower():
        raise InputError(f"line {number}: {token} is too large for float64 (max ~1.8e308)")
    try:
        integer = int(token)
    except ValueError:
        return
    if not -(2**63) <= integer < 2**63:
        # As float64 it would come back as a different number: refuse, do not round.
        raise InputError(
            f"line {number}: integer {token} does not fit in int64; "
            "write it as a float (e.g. 1e23) to sort it rounded"
        )


def read_npy(path: str, n: int) -> np.ndarray:
    """Load a ``(batch, n)`` array from a ``.npy`` file (no pickles)."""
    try:
        X = np.load(path, allow_pickle=False)
    except ValueError as error:
        raise InputError(f"{path}: not a numeric .npy array ({error})") from None
    if not isinstance(X, np.ndarray):
        raise InputError(f"{path}: expected a .npy array, got a {type(X).__name__}")
    if X.ndim != 2 or X.shape[1] != n:
        raise InputError(f"{path}: expected an array of shape (batch, n={n}), got {X.shape}")
    return X


def write_rows(stream: TextIO, Y: np.ndarray) -> None:
    """Write rows as space-separated text (``repr`` precision for floats)."""
    for row in Y.tolist():
        stream.write(" ".join(repr(value) for value in row) + "\n")


def npy_target(path: str) -> Path:
    """Check an ``--output`` path before any work: a ``.npy`` file in an existing folder.

    Examples
    --------
    >>> npy_target("out.txt")
    Traceback (most recent call last):
    ...
    sortnet.errors.SortnetError: --output must end in .npy (or be '-'), got 'out.txt'
    """
    if Path(path).suffix != ".npy":
        raise SortnetError(f"--output must end in .npy (or be '-'), got {path!r}")
    return check_target(path, "--output")


def write_npy(path: str, Y: np.ndarray) -> None:
    """Write ``Y`` to ``path`` atomically: a temporary file in the same folder, renamed."""
    atomic_write(npy_target(path), lambda stream: np.save(stream, Y), "--output")

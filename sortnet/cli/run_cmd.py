"""``sortnet run MODEL [--input X.npy|-] [--output Y.npy|-] [--dtype D]``: run a model.

Runs rows through a compiled model file (``.npz`` from ``sortnet compile``) with the
numpy neural executor. Input and output work as in ``sortnet sort``: text rows on
stdin/stdout, or ``.npy`` files. Integer text gives integer text when every output
is an integer (the models are exact on integers within the mantissa).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np

from sortnet.cli.sort_cmd import npy_target, read_npy, read_rows, write_npy, write_rows
from sortnet.nn.model import load_model


def register(subparsers: Any) -> None:
    """Add the ``run`` subcommand."""
    parser = subparsers.add_parser(
        "run",
        help="run rows through a compiled model (.npz) with the numpy neural executor",
        description="Run each row through the weights of MODEL (a .npz from 'sortnet compile').",
    )
    parser.add_argument("model", metavar="MODEL", help="a model file written by 'sortnet compile'")
    parser.add_argument(
        "--input",
        default="-",
        metavar="X.npy|-",
        help="rows: a .npy file of shape (batch, n), or '-' for text on stdin (default)",
    )
    parser.add_argument(
        "--output",
        default="-",
        metavar="Y.npy|-",
        help="a .npy file, or '-' for text on stdout (default)",
    )
    parser.add_argument(
        "--dtype",
        choices=("float64", "float32"),
        default=None,
        help="precision of the run (default: float32 for float32 .npy input, else float64)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load, run and write; exit code 0 (user mistakes propagate to main)."""
    model = load_model(args.model)
    if args.output != "-":
        npy_target(args.output)  # a bad --output fails before any work
    X = read_rows(sys.stdin, model.n) if args.input == "-" else read_npy(args.input, model.n)
    Y = model(X, dtype=args.dtype)
    if args.output == "-":
        # Integers print as integers only where int64 holds them exactly.
        integral = X.dtype.kind in "iu" and np.all(np.round(Y) == Y) and np.all(abs(Y) < 2**53)
        write_rows(sys.stdout, Y.astype(np.int64) if integral else Y)
    else:
        write_npy(args.output, Y)
    return 0

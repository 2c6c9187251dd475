"""``sortnet run MODEL [--input X.npy|-] [--output Y.npy|-] [--dtype D]``: run a model.

Runs rows through a compiled model file (``.npz`` from ``sortnet compile``) with the
numpy neural executor. Input and output work as in ``sortnet sort``: text rows on
stdin/stdout, or ``.npy`` files, streamed a block of rows at a time. Integer text gives
integer text for each block whose outputs are all integers (the models are exact on
integers within the mantissa).
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from sortnet.cli._stream import add_stream_arguments, npy_target, open_input, stream_rows
from sortnet.nn import kernels as model_kernels
from sortnet.nn import native
from sortnet.nn.model import load_model


def register(subparsers: Any) -> None:
    """Add the ``run`` subcommand."""
    parser = subparsers.add_parser(
        "run",
        help="run rows through a compiled model (.npz) with the numpy neural executor",
        description="Run each row through the weights of MODEL (a .npz from 'sortnet compile').",
    )
    parser.add_argument("model", metavar="MODEL", help="a model file written by 'sortnet compile'")
    add_stream_arguments(parser)
    parser.add_argument(
        "--dtype",
        choices=("float64", "float32"),
        default=None,
        help="precision of the run (default: float32 for float32 .npy input, else float64)",
    )
    parser.add_argument(
        "--allow-missing-digest",
        action="store_true",
        help="accept a model file without a content digest (format version 1, written by "
        "sortnet 0.1.0), whose modification cannot be detected",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load, run and write block by block; exit code 0 (user mistakes propagate to main)."""
    model = load_model(args.model, allow_missing_digest=args.allow_missing_digest)
    if args.output != "-":
        npy_target(args.output)  # a bad --output fails before any work
    source = open_input(args.input, model.n)
    X = source.rows
    dtype = np.dtype(args.dtype or (X.dtype if X.dtype in (np.float32, np.float64) else "f8"))
    # Decide the engine on the whole input, not per block (see sort_cmd._prepare_kernel);
    # a broadcast view has the input's size without its memory.
    whole = np.broadcast_to(dtype.type(0), X.shape)
    # The C kernel is precompiled: only the numba engine has a kernel to compile first.
    if not native.runs(model, dtype) and model_kernels.use_numba(model, whole, None):
        model_kernels.kernel_for(model, dtype, background=True)

    def text(block: np.ndarray, Y: np.ndarray) -> np.ndarray:
        # Integers print as integers only where int64 holds them exactly.
        integral = block.dtype.kind in "iu" and np.all(np.round(Y) == Y) and np.all(abs(Y) < 2**53)
        return Y.astype(np.int64) if integral else Y

    stream_rows(
        source,
        lambda block: model(block, dtype=dtype),
        args.output,
        block_rows=args.block_rows,
        text=text,
        desc="run",
    )
    return 0

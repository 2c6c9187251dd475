"""``sortnet sort FAMILY N | FILE [--input X] [--output Y] [--k K] [--argsort]``: sort rows.

Rows come from stdin (``-``, the default) as text, one row per line, numbers separated
by whitespace or commas (blank lines and ``#`` comments skipped), or from a ``.npy``
file of shape ``(batch, n)``. Sorted rows go to stdout as text, or to a ``.npy`` file
written atomically (temporary file, then rename). Text is read exactly or refused
(see :mod:`sortnet.cli._text`): integer text stays integer. A ``.npy`` file is
memory-mapped and sorted a block of rows at a time (see :mod:`sortnet.cli._stream`).
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from sortnet.circuit import kernels
from sortnet.circuit.run import argsort, sort
from sortnet.cli._common import add_network_arguments, network_from_args
from sortnet.cli._stream import add_stream_arguments, npy_target, open_input, stream_rows
from sortnet.cli.verify_cmd import parse_k
from sortnet.network import Network
from sortnet.select import select


def register(subparsers: Any) -> None:
    """Add the ``sort`` subcommand."""
    parser = subparsers.add_parser(
        "sort",
        help="sort rows of numbers with a network (exact min/max circuit)",
        description="Sort each row of numbers with the comparator network FAMILY N or FILE.",
    )
    add_network_arguments(parser)
    add_stream_arguments(parser)
    parser.add_argument(
        "--k", help="output only the k-th smallest of each row (1-based, or median, min, max)"
    )
    parser.add_argument(
        "--argsort",
        action="store_true",
        help="output the input column (0-based) at each sorted position instead of the "
        "value; ties keep column order",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Read, sort and write block by block; exit code 0 (user mistakes propagate to main)."""
    net = network_from_args(args)
    k = parse_k(args.k)
    if args.output != "-":
        npy_target(args.output)  # a bad --output fails before any work
    source = open_input(args.input, net.n)
    if k is not None:
        net = select(net, k)  # once, not per block
    kind = "argsort" if args.argsort else "sort"
    _prepare_kernel(source.rows, net, kind)
    function = argsort if args.argsort else sort
    stream_rows(
        source,
        lambda block: function(block, net),
        args.output,
        block_rows=args.block_rows,
        desc=kind,
    )
    return 0


def _prepare_kernel(X: np.ndarray, net: Network, kind: str) -> None:
    """Compile (or load) the kernel when the whole input deserves it (the generic one).

    The executor decides per call from the batch size, and a block is smaller than the
    file: without this, a large file would run on the slow numpy path block after
    block. Once the kernel is compiled, every block uses it.
    """
    if kernels.use_kernel(X, net, kind=kind):
        kernels.warm_up(net, X.dtype, kind=kind)

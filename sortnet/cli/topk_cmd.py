"""``sortnet topk --k K [--smallest] [--input X] [--output V] [--indices I]``: top-k of each row.

Rows come in as for ``sortnet sort`` (see :mod:`sortnet.cli._stream`): text on stdin
(``-``, the default; read exactly or refused) or a ``.npy`` file of shape
``(batch, n)``, memory-mapped and processed a block of rows at a time. The row width
``n`` is read from the input (the first text row, or the ``.npy`` header).

Two outputs, each optional:

* ``--output``: the values, ``(batch, k)`` in the input's dtype, largest first
  (smallest first with ``--smallest``): a ``.npy`` file, or ``-`` for text on stdout
  (the default, unless ``--indices -`` takes stdout).
* ``--indices``: the column (0-based) of each value, int64; equal values keep column
  order. A ``.npy`` file, or ``-`` for text on stdout (then ``--output`` may only be
  a file, or left out to skip the values).

Files are written atomically (a temporary file renamed at the end; on an error or a
signal neither output file is touched).
"""

from __future__ import annotations

import argparse
import io
import os
import stat
import sys
from collections.abc import Callable
from typing import Any, BinaryIO

import numpy as np
from numpy.lib import format as npy_format

from sortnet.circuit.topk import prepare, topk
from sortnet.cli._common import positive_int
from sortnet.cli._npy import NpyRows, open_npy, write_npy_header
from sortnet.cli._stream import BlockWriter, TextRows, _compute, block_rows_for, npy_target
from sortnet.cli._text import read_rows, write_rows
from sortnet.errors import InputError, SortnetError
from sortnet.io.atomic import atomic_write
from sortnet.progress import progress


def register(subparsers: Any) -> None:
    """Add the ``topk`` subcommand."""
    parser = subparsers.add_parser(
        "topk",
        help="the k largest (or smallest) values of each row and their columns, stable",
        description="The k largest values of each row (or the k smallest) and their column "
        "indices, through a top-k comparator network; equal values keep column order.",
    )
    parser.add_argument(
        "--k", type=positive_int, required=True, help="values per row (1 <= k <= n)"
    )
    parser.add_argument(
        "--smallest",
        action="store_true",
        help="the k smallest, in ascending order (default: the k largest, descending)",
    )
    parser.add_argument(
        "--input",
        default="-",
        metavar="X.npy|-",
        help="rows: a .npy file of shape (batch, n), or '-' for text on stdin (the default)",
    )
    parser.add_argument(
        "--output",
        default=None,
        metavar="V.npy|-",
        help="the values: a .npy file (written atomically) or '-' for text on stdout "
        "(the default, unless --indices is '-')",
    )
    parser.add_argument(
        "--indices",
        default=None,
        metavar="I.npy|-",
        help="also write the column indices (int64): a .npy file or '-' for text on stdout",
    )
    parser.add_argument(
        "--block-rows",
        type=positive_int,
        default=None,
        metavar="ROWS",
        help="rows per block (default: about 16 MB of input per block)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Read, select and write block by block; exit code 0 (user mistakes propagate to main)."""
    values_to, indices_to = _targets(args.output, args.indices)
    source = _open(args.input, args.k)
    n = source.rows.shape[1]
    if args.k > n:
        raise InputError(f"--k {args.k} is more than the n={n} values in each row of {source.name}")
    largest = not args.smallest

    def compute(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return topk(block, args.k, largest)

    # Dtype and k are checked here, before any output is started.
    probe = _compute(lambda b: compute(b)[0], source, 0, source.rows[:0])
    prepare(source.rows)  # compile (or load) the kernel once when the whole input deserves it
    shape = (source.rows.shape[0], args.k)
    step = block_rows_for(source, args.block_rows)

    def body(value_file: BinaryIO | None, index_file: BinaryIO | None) -> None:
        sinks: list[_FileSink | _TextSink | None] = []
        for target, stream, dtype in (
            (values_to, value_file, probe.dtype),
            (indices_to, index_file, np.dtype(np.int64)),
        ):
            if stream is not None:
                write_npy_header(stream, shape, dtype)
                sinks.append(_FileSink(BlockWriter(stream), dtype))
            else:
                sinks.append(_TextSink() if target == "-" else None)
        try:
            with progress(shape[0], desc="topk", unit="rows") as bar:
                for start, block in source.blocks(step):
                    outputs = _compute(compute, source, start, block)  # type: ignore[arg-type]
                    for sink, out in zip(sinks, outputs, strict=True):
                        if sink is not None:
                            sink.put(out)
                    bar.update(block.shape[0])
        finally:
            for sink in sinks:
                if sink is not None:
                    sink.close()

    files = [t for t in (values_to, indices_to) if t not in (None, "-")]
    if not files:
        body(None, None)
    elif len(files) == 1:
        write: Callable[[BinaryIO], None] = (
            (lambda s: body(s, None)) if values_to == files[0] else (lambda s: body(None, s))
        )
        atomic_write(files[0], write, "--output" if values_to == files[0] else "--indices")
    else:
        atomic_write(
            files[0],
            lambda vs: atomic_write(files[1], lambda xs: body(vs, xs), "--indices"),
            "--output",
        )
    return 0


def _targets(output: str | None, indices: str | None) -> tuple[str | None, str | None]:
    """Where values and indices go (None: not written); bad paths fail before any work."""
    if output is None and indices != "-":
        output = "-"
    if output == "-" and indices == "-":
        raise SortnetError("--output and --indices cannot both be '-' (stdout); give one a file")
    files = [target for target in (output, indices) if target is not None and target != "-"]
    for target in files:
        npy_target(target)
    if len(files) == 2 and os.path.abspath(files[0]) == os.path.abspath(files[1]):
        raise SortnetError(f"--output and --indices name the same file: {files[0]!r}")
    return output, indices


def _open(spec: str, k: int) -> NpyRows:
    """The input rows, their width read from the first text row or the ``.npy`` header.

    Text without a row is an empty batch (nothing to print, as for ``sortnet sort``).
    """
    if spec == "-":
        text = sys.stdin.read()
        n = k
        for line in text.splitlines():
            tokens = line.split("#", 1)[0].replace(",", " ").split()
            if tokens:
                n = len(tokens)
                break
        return TextRows(read_rows(io.StringIO(text), n))
    return open_npy(spec, _npy_width(spec))


def _npy_width(path: str) -> int:
    """``n`` from a ``.npy`` header; anything odd is left to :func:`open_npy` to name."""
    try:
        # O_NONBLOCK: a FIFO with no writer must not hang (open_npy refuses it).
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return 0  # open_npy raises the same error, named
    with os.fdopen(descriptor, "rb") as stream:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            return 0
        try:
            version = npy_format.read_magic(stream)
            if version == (1, 0):
                shape = npy_format.read_array_header_1_0(stream)[0]
            else:
                shape = npy_format.read_array_header_2_0(stream)[0]
        except Exception:  # noqa: BLE001 - open_npy names every problem of a bad file
            return 0
    if not isinstance(shape, tuple) or len(shape) != 2:
        raise InputError(f"{path}: expected an array of shape (batch, n), got {shape}")
    return int(shape[1])


class _FileSink:
    """Blocks appended to a ``.npy`` file (after its header) on a writer thread."""

    def __init__(self, writer: BlockWriter, dtype: np.dtype) -> None:
        self.writer, self.dtype = writer, dtype

    def put(self, out: np.ndarray) -> None:
        self.writer.put(np.ascontiguousarray(out, self.dtype))

    def close(self) -> None:
        self.writer.close()


class _TextSink:
    """Blocks printed to stdout as text."""

    def put(self, out: np.ndarray) -> None:
        write_rows(sys.stdout, out)

    def close(self) -> None:
        sys.stdout.flush()

"""Rows in, rows out, a block at a time: the input and output of ``sort`` and ``run``.

``--input`` is text on stdin (``-``, read whole: its dtype depends on every token; see
:mod:`sortnet.cli._text`) or a ``.npy`` file, memory-mapped after its header is checked
(:mod:`sortnet.cli._npy`). :func:`stream_rows` then computes the output one block of
rows at a time and writes each block as it is done: to stdout as text, or into a
temporary ``.npy`` file (header first, then the blocks) renamed over ``--output`` at
the end. So memory stays at a few blocks whatever the file size, and an error or a
signal part-way leaves no temporary file and the old ``--output`` untouched.
"""

from __future__ import annotations

import argparse
import queue
import re
import sys
import threading
from collections.abc import Callable
from typing import BinaryIO

import numpy as np

from sortnet.cli._common import positive_int
from sortnet.cli._npy import NpyRows, open_npy, write_npy_header
from sortnet.cli._text import read_rows, write_rows
from sortnet.errors import InputError, SortnetError
from sortnet.io.atomic import atomic_write, check_target
from sortnet.progress import progress

#: Default input bytes per block: big enough that per-block overhead vanishes, small
#: enough that a block, its output and the executor's buffers stay well under 256 MB.
BLOCK_BYTES = 16 << 20

Compute = Callable[[np.ndarray], np.ndarray]


def add_stream_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--input``, ``--output`` and ``--block-rows`` to ``parser``.

    Examples
    --------
    >>> parser = argparse.ArgumentParser(prog="demo")
    >>> add_stream_arguments(parser)
    >>> args = parser.parse_args(["--input", "x.npy", "--block-rows", "100"])
    >>> args.input, args.output, args.block_rows
    ('x.npy', '-', 100)
    """
    parser.add_argument(
        "--input",
        default="-",
        metavar="X.npy|-",
        help="rows: a .npy file of shape (batch, n), or '-' for text on stdin "
        "(whitespace or comma separated; the default)",
    )
    parser.add_argument(
        "--output",
        default="-",
        metavar="Y.npy|-",
        help="where to write: a .npy file (written atomically), or '-' for text on stdout "
        "(the default)",
    )
    parser.add_argument(
        "--block-rows",
        type=positive_int,
        default=None,
        metavar="ROWS",
        help=f"rows per block (default: about {BLOCK_BYTES >> 20} MB of input per block)",
    )


class TextRows(NpyRows):
    """Rows parsed from text on stdin, in memory; same interface as a mapped ``.npy``."""

    def __init__(self, rows: np.ndarray) -> None:
        super().__init__("stdin", rows, None, 0)


def open_input(spec: str, n: int) -> NpyRows:
    """The rows named by ``--input``: text on stdin for ``-``, else a checked ``.npy`` file.

    Examples
    --------
    >>> import io
    >>> sys.stdin = io.StringIO("3 1\\n")
    >>> try:
    ...     source = open_input("-", 2)
    ... finally:
    ...     sys.stdin = sys.__stdin__
    >>> source.name, source.rows
    ('stdin', array([[3, 1]]))
    """
    if spec == "-":
        return TextRows(read_rows(sys.stdin, n))
    return open_npy(spec, n)


def npy_target(path: str) -> None:
    """Check an ``--output`` path before any work: a ``.npy`` file in an existing folder.

    Examples
    --------
    >>> npy_target("out.txt")
    Traceback (most recent call last):
    ...
    sortnet.errors.SortnetError: --output must end in .npy (or be '-'), got 'out.txt'
    """
    if not path.endswith(".npy"):
        raise SortnetError(f"--output must end in .npy (or be '-'), got {path!r}")
    check_target(path, "--output")


def block_rows_for(source: NpyRows, block_rows: int | None) -> int:
    """Rows per block: ``block_rows`` if given, else about :data:`BLOCK_BYTES` of input.

    Examples
    --------
    >>> source = TextRows(np.zeros((5, 16), dtype=np.float32))
    >>> block_rows_for(source, None), block_rows_for(source, 2)
    (262144, 2)
    """
    if block_rows is not None:
        return block_rows
    row_bytes = max(1, source.rows.shape[1] * source.rows.itemsize)
    return max(1, BLOCK_BYTES // row_bytes)


def stream_rows(
    source: NpyRows,
    compute: Compute,
    output: str,
    *,
    block_rows: int | None = None,
    text: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    desc: str = "rows",
) -> int:
    """Write ``compute(block)`` for each block of ``source`` to ``output``; return the block count.

    Parameters
    ----------
    source : NpyRows
        From :func:`open_input`.
    compute : callable
        Maps a ``(rows, n)`` block to its ``(rows, width)`` output; called once on an
        empty block first, for the output's width and dtype.
    output : str
        ``-`` for text on stdout, else a ``.npy`` path (checked with :func:`npy_target`).
    block_rows : int, optional
        Rows per block (see :func:`block_rows_for`).
    text : callable, optional
        ``text(block, out)`` gives the array to print for a block (default: ``out``).
    desc : str
        Label of the progress bar (shown on a terminal only).

    Examples
    --------
    >>> import io, contextlib
    >>> source = TextRows(np.array([[3, 1], [2, 5], [9, 0]]))
    >>> with contextlib.redirect_stdout(io.StringIO()) as out:
    ...     blocks = stream_rows(source, lambda X: np.sort(X, axis=1), "-", block_rows=2)
    >>> blocks, out.getvalue()
    (2, '1 3\\n2 5\\n0 9\\n')
    """
    rows = source.rows
    step = block_rows_for(source, block_rows)
    probe = _compute(compute, source, 0, rows[:0])  # width and dtype, before any output
    counted = [0]

    def blocks(write: Callable[[np.ndarray, np.ndarray], None]) -> None:
        with progress(rows.shape[0], desc=desc, unit="rows") as bar:
            for start, block in source.blocks(step):
                out = _compute(compute, source, start, block)
                write(block, out)
                counted[0] += 1
                bar.update(block.shape[0])

    if output == "-":

        def to_text(block: np.ndarray, out: np.ndarray) -> None:
            write_rows(sys.stdout, out if text is None else text(block, out))

        blocks(to_text)
        return counted[0]

    def to_file(stream: BinaryIO) -> None:
        write_npy_header(stream, (rows.shape[0], probe.shape[1]), probe.dtype)
        writer = BlockWriter(stream)
        try:
            blocks(lambda block, out: writer.put(np.ascontiguousarray(out, probe.dtype)))
        finally:
            writer.close()

    npy_target(output)
    atomic_write(output, to_file, "--output")
    return counted[0]


class BlockWriter:
    """Writes blocks to ``stream`` on a thread, so the disk works while the next block sorts.

    Writing the output is often the slowest part (a disk takes seconds for what the
    kernel sorts in one); overlapping the two hides the sort. At most ``depth`` blocks
    wait in the queue, so memory stays bounded. :meth:`close` must be called (in a
    ``finally``): it waits for the thread, so nothing writes to the file after the
    caller removes it, and re-raises the thread's error, if any.

    Examples
    --------
    >>> import io
    >>> buffer = io.BytesIO()
    >>> writer = BlockWriter(buffer)
    >>> writer.put(np.array([1, 2], dtype=np.uint8)); writer.put(np.array([3], dtype=np.uint8))
    >>> writer.close(); buffer.getvalue()
    b'\\x01\\x02\\x03'
    """

    def __init__(self, stream: BinaryIO, depth: int = 2) -> None:
        self._stream = stream
        self._queue: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="sortnet-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (block := self._queue.get()) is not None:
            if self._error is None:  # after an error, only drain the queue
                try:
                    self._stream.write(block.data)
                except BaseException as error:  # noqa: BLE001 - handed to the caller
                    self._error = error

    def put(self, block: np.ndarray) -> None:
        """Queue a C-contiguous ``block`` (not modified afterwards) for writing."""
        if self._error is not None:
            raise self._error
        self._queue.put(block)

    def close(self) -> None:
        """Wait until every queued block is written; raise the writing error, if any."""
        interrupted: BaseException | None = None
        sent = False
        for _ in range(100):  # a second signal must not leave the thread writing
            try:
                if not sent:
                    self._queue.put(None)
                    sent = True
                self._thread.join()
                break
            except BaseException as error:  # noqa: BLE001 - re-raised below
                interrupted = interrupted or error
        if interrupted is not None:
            raise interrupted
        if self._error is not None:
            raise self._error


def _compute(compute: Compute, source: NpyRows, start: int, block: np.ndarray) -> np.ndarray:
    """``compute(block)``, with row numbers in its errors counted from the whole input."""
    try:
        return compute(block)
    except SortnetError as error:
        # The executors number rows within the block; the user needs them in the file.
        message = re.sub(r"\brow (\d+)", lambda m: f"row {start + int(m[1])}", str(error))
        message = re.sub(r"\bX\[(\d+),", lambda m: f"X[{start + int(m[1])},", message)
        kind = InputError if isinstance(error, InputError) else SortnetError
        raise kind(f"{source.name}: {message}") from None

"""``.npy`` files for the command line: a checked, memory-mapped reader and a block writer.

:func:`open_npy` checks the header against the file before reading a byte of data
(a truncated file, a header claiming ``10**13`` rows, a zip, a pickle, a
device or a directory are each one clear :class:`~sortnet.errors.InputError`), then
maps the data read-only, so a file of any size costs no memory up front.
:class:`NpyRows` hands the rows out block by block and gives each finished
block's pages back to the kernel, so the resident set stays at about one block.
:func:`write_npy_header` starts an output file that blocks are then appended to.
"""

from __future__ import annotations

import mmap
import os
import stat
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np
from numpy.lib import format as npy_format

from sortnet.errors import InputError

_ZIP_MAGIC = b"PK\x03\x04"


class NpyRows:
    """The ``(batch, n)`` rows of a checked ``.npy`` file, memory-mapped read-only.

    Attributes
    ----------
    rows : numpy.ndarray
        The whole array (a read-only view of the mapping; ``(0, n)`` and not mapped
        when the file has no rows).
    name : str
        The path, for error messages.
    """

    def __init__(self, path: str, rows: np.ndarray, mapping: mmap.mmap | None, offset: int):
        self.name = path
        self.rows = rows
        self._mapping = mapping
        self._offset = offset
        self._released = 0

    def release(self, stop: int) -> None:
        """Drop the pages of rows ``< stop`` from this process (they stay in the page cache).

        Without this, every page read through the mapping would count in the resident
        set until the end, and peak memory would grow with the file.
        """
        if self._mapping is None or not hasattr(self._mapping, "madvise"):
            return
        end = (self._offset + stop * self.rows.shape[1] * self.rows.itemsize) // mmap.PAGESIZE
        end *= mmap.PAGESIZE
        if end > self._released:
            self._mapping.madvise(mmap.MADV_DONTNEED, self._released, end - self._released)
            self._released = end

    def blocks(self, block_rows: int) -> Iterator[tuple[int, np.ndarray]]:
        """``(start, block)`` pairs of at most ``block_rows`` rows, releasing each one after use."""
        for start in range(0, self.rows.shape[0], block_rows):
            stop = min(start + block_rows, self.rows.shape[0])
            yield start, self.rows[start:stop]
            self.release(stop)


def open_npy(path: str, n: int) -> NpyRows:
    """Check the ``.npy`` file at ``path`` and map its ``(batch, n)`` rows read-only.

    Parameters
    ----------
    path : str
        A ``.npy`` file (version 1.0 or 2.0, C order, a numeric dtype, no pickles).
    n : int
        The row width the network or model takes.

    Returns
    -------
    NpyRows

    Raises
    ------
    InputError
        Naming ``path`` and the problem: not a regular file, empty, a zip archive, not
        a ``.npy`` file, a corrupt header, an object (pickle) or non-numeric dtype,
        Fortran order, a shape other than ``(batch, n)``, or a size that does not
        match the header (truncated, or trailing bytes).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = str(pathlib.Path(folder) / "x.npy")
    ...     np.save(path, np.arange(6.0).reshape(3, 2))
    ...     source = open_npy(path, 2)
    ...     print(source.rows.shape, source.rows.dtype, float(source.rows[2, 1]))
    ...     open_npy(path, 3)
    Traceback (most recent call last):
    ...
    sortnet.errors.InputError: ...x.npy: expected an array of shape (batch, n=3), got (3, 2)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = pathlib.Path(folder) / "x.npy"
    ...     np.save(path, np.zeros((1000, 4)))
    ...     _ = path.write_bytes(path.read_bytes()[:500])
    ...     open_npy(str(path), 4)
    Traceback (most recent call last):
    ...
    sortnet.errors.InputError: ...x.npy: truncated: the header says 1000 x 4 float64 (32000 bytes of data) but the file holds 372
    """  # noqa: E501
    # O_NONBLOCK: opening a FIFO with no writer must not hang (it is refused just below);
    # a regular file ignores the flag. FileNotFoundError etc. are named by the CLI.
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    info = os.fstat(descriptor)
    if not stat.S_ISREG(info.st_mode):
        os.close(descriptor)
        if stat.S_ISDIR(info.st_mode):
            raise InputError(f"{path}: is a directory, not a .npy file")
        raise InputError(f"{path}: not a regular file (a .npy file is needed)")
    with os.fdopen(descriptor, "rb") as stream:
        if info.st_size == 0:
            raise InputError(f"{path}: the file is empty, not a .npy array")
        dtype, shape, offset = _read_header(stream, path, n)
        data = info.st_size - offset
        expected = int(np.prod(shape, dtype=object)) * dtype.itemsize  # Python ints: no overflow
        if data != expected:
            what = (
                f"the header says {shape[0]} x {shape[1]} {dtype} ({expected} bytes of data) "
                f"but the file holds {data}"
            )
            problem = "truncated" if data < expected else "trailing bytes after the array"
            raise InputError(f"{path}: {problem}: {what}")
        if expected == 0:  # nothing to map (mmap refuses a zero-length mapping)
            return NpyRows(path, np.empty(shape, dtype=dtype), None, offset)
        mapping = mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ)
    if hasattr(mapping, "madvise"):  # not on Windows
        mapping.madvise(mmap.MADV_SEQUENTIAL)  # read ahead: the rows are read once, in order
    rows = np.ndarray(shape, dtype=dtype, buffer=mapping, offset=offset, order="C")
    return NpyRows(path, rows, mapping, offset)


def _read_header(stream: BinaryIO, path: str, n: int) -> tuple[np.dtype, tuple[int, int], int]:
    """The dtype, shape and data offset from the header, each checked; nothing else read."""
    magic = stream.read(len(npy_format.MAGIC_PREFIX) + 2)
    if magic.startswith(_ZIP_MAGIC):
        raise InputError(f"{path}: a zip archive (an .npz?), not a .npy array")
    if not magic.startswith(npy_format.MAGIC_PREFIX) or len(magic) < 8:
        raise InputError(f"{path}: not a .npy file (it does not start with the .npy magic)")
    version = (magic[-2], magic[-1])
    readers = {
        (1, 0): npy_format.read_array_header_1_0,
        (2, 0): npy_format.read_array_header_2_0,
    }
    if version not in readers:
        raise InputError(f"{path}: unsupported .npy format version {version[0]}.{version[1]}")
    try:
        shape, fortran_order, dtype = readers[version](stream)
    except (ValueError, SyntaxError, TypeError, EOFError) as error:
        raise InputError(f"{path}: corrupt .npy header ({error})") from None
    if dtype.hasobject:
        raise InputError(f"{path}: holds Python objects (needs pickle); sortnet does not load them")
    if dtype.kind not in "biuf" or dtype.fields is not None or dtype.subdtype is not None:
        raise InputError(f"{path}: dtype {dtype} is not numbers sortnet can sort")
    if fortran_order and len(shape) > 1:
        raise InputError(
            f"{path}: stored in Fortran (column) order; rows are needed: save it with "
            "np.save(path, np.ascontiguousarray(X))"
        )
    if len(shape) != 2 or shape[1] != n:
        raise InputError(f"{path}: expected an array of shape (batch, n={n}), got {shape}")
    return dtype, (int(shape[0]), int(shape[1])), stream.tell()


def write_npy_header(stream: BinaryIO, shape: tuple[int, int], dtype: np.dtype) -> None:
    """Write the header ``np.save`` would write for a C-order ``shape`` array of ``dtype``.

    The data, ``shape[0] * shape[1]`` values in C order, must follow.

    Examples
    --------
    >>> import io
    >>> buffer = io.BytesIO()
    >>> write_npy_header(buffer, (2, 3), np.dtype(np.float32))
    >>> _ = buffer.write(np.zeros((2, 3), np.float32).tobytes())
    >>> saved = io.BytesIO(); np.save(saved, np.zeros((2, 3), np.float32))
    >>> buffer.getvalue() == saved.getvalue()
    True
    """
    header = {
        "descr": npy_format.dtype_to_descr(dtype),
        "fortran_order": False,
        "shape": shape,
    }
    try:
        npy_format.write_array_header_1_0(stream, header)
    except ValueError:  # a header too long for version 1.0 (np.save switches too)
        npy_format.write_array_header_2_0(stream, header)

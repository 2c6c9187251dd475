"""Bounded reading of a model file's ``.npz`` archive: nothing allocated that it does not hold.

A few KB of zip can declare gigabytes (a compression bomb, or an ``.npy`` header
declaring a huge shape), and ``/dev/zero`` never ends, so :func:`read_archive`
bounds every size before it reads: the path must be a regular file of at most
:data:`MAX_FILE_BYTES`; the zip directory's declared sizes must total at most
:data:`MAX_UNCOMPRESSED_BYTES` (and at most :data:`MAX_COMPRESSION_RATIO` times the
file above :data:`RATIO_FREE_BYTES`); members must be plain (stored or deflated,
whose reads zipfile bounds by the declared size) ``.npy`` arrays of a numeric or
string dtype, never objects (pickle); and each ``.npy`` header's shape must need
exactly the bytes the member holds. What the arrays mean is checked next, by
:mod:`sortnet.nn.npz_checks`.
"""

from __future__ import annotations

import math
import os
import stat
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from sortnet.errors import ModelFormatError

#: Largest model file read (bytes on disk). Real models are far smaller: bitonic n=1024
#: (28160 comparators) with the relu lowering is 1.3 MB, the counting model of n=160
#: 9 MB. (zipfile's directory parse takes memory in proportion to the file: bound it.)
MAX_FILE_BYTES = 256 << 20
#: Largest total of the arrays and metadata once decompressed. The relu model of a
#: network at sortnet's limit of 2**20 comparators would need about 0.9 GB.
MAX_UNCOMPRESSED_BYTES = 1 << 30
#: Decompressed bytes per byte on disk allowed above :data:`RATIO_FREE_BYTES`: real
#: models compress 2-25 times; deflate reaches ~1000 on crafted data.
MAX_COMPRESSION_RATIO = 200
#: Archives this small (decompressed) are never refused for their compression ratio.
RATIO_FREE_BYTES = 16 << 20
_NPY_MAGIC = b"\x93NUMPY"

__all__ = ["MAX_FILE_BYTES", "MAX_UNCOMPRESSED_BYTES", "read_archive"]


def _fail(path: Path, problem: str) -> ModelFormatError:
    # One line: the CLI prints the message as its only line on stderr.
    return ModelFormatError(f"{path}: {problem}".replace("\n", " "))


def _size(count: int) -> str:
    return f"{count / (1 << 20):.1f} MiB" if count >= 1 << 20 else f"{count} bytes"


def read_archive(path: Path) -> dict[str, np.ndarray]:
    """Every array of the model file at ``path``, read with bounded memory.

    Returns ``{name: array}`` with ``name`` the member name without ``.npy``. The file
    must be a regular file of at most :data:`MAX_FILE_BYTES`; its members must total
    at most :data:`MAX_UNCOMPRESSED_BYTES` decompressed (and at most
    :data:`MAX_COMPRESSION_RATIO` times the file size above :data:`RATIO_FREE_BYTES`).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ModelFormatError
        For anything else that is not a well-formed ``.npz`` of plain numeric arrays.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = Path(tmp) / "a.npz"
    ...     np.savez(path, x=np.arange(3.0))
    ...     read_archive(path)
    {'x': array([0., 1., 2.])}
    >>> read_archive(Path("/dev/zero"))
    Traceback (most recent call last):
    ...
    sortnet.errors.ModelFormatError: /dev/zero: not a regular file (a device, pipe or socket)...
    """
    info = os.stat(path)  # FileNotFoundError propagates: the CLI reports it as such
    _check_file_kind(path, info.st_mode, info.st_size)
    # O_NONBLOCK: if the path was swapped for a pipe since stat, open must not wait.
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(descriptor, "rb") as stream:
        opened = os.fstat(stream.fileno())
        _check_file_kind(path, opened.st_mode, opened.st_size)
        if stream.read(4) != b"PK\x03\x04":
            raise _fail(path, "not a model file (not an .npz archive)")
        stream.seek(0)
        try:
            with zipfile.ZipFile(stream) as archive:
                return _read_members(archive, path, opened.st_size)
        except ModelFormatError:
            raise
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as error:
            raise _fail(path, f"corrupt or truncated model file ({error})") from None
        except (ValueError, RuntimeError, NotImplementedError, UnicodeError) as error:
            raise _fail(path, f"corrupt model file ({error})") from None


def _check_file_kind(path: Path, mode: int, size: int) -> None:
    if stat.S_ISDIR(mode):
        raise _fail(path, "is a directory, not a model file")
    if not stat.S_ISREG(mode):
        raise _fail(path, "not a regular file (a device, pipe or socket), not a model file")
    if size == 0:
        raise _fail(path, "empty file, not a model file")
    if size > MAX_FILE_BYTES:
        raise _fail(
            path, f"{_size(size)} is more than the model file limit of {_size(MAX_FILE_BYTES)}"
        )


def _read_members(archive: zipfile.ZipFile, path: Path, file_size: int) -> dict[str, np.ndarray]:
    members = archive.infolist()
    names = [member.filename for member in members]
    if len(set(names)) != len(names):
        raise _fail(path, "corrupt model file (an archive member appears twice)")
    # Check the declared sizes before decompressing anything: a few KB can declare GBs.
    total = sum(member.file_size for member in members)
    limit = min(MAX_UNCOMPRESSED_BYTES, max(RATIO_FREE_BYTES, MAX_COMPRESSION_RATIO * file_size))
    if total > MAX_UNCOMPRESSED_BYTES:
        raise _fail(
            path,
            f"its arrays take {_size(total)} uncompressed, more than the limit of "
            f"{_size(MAX_UNCOMPRESSED_BYTES)}",
        )
    if total > limit:
        raise _fail(
            path,
            f"its arrays take {_size(total)} uncompressed, more than "
            f"{MAX_COMPRESSION_RATIO} times its size on disk (a compression bomb?)",
        )
    arrays = {}
    for member in members:
        if not member.filename.endswith(".npy"):
            raise _fail(path, f"not a model file (archive member {member.filename!r} is not .npy)")
        if member.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            # numpy writes only these; other decompressors are not size-bounded per read.
            raise _fail(path, f"{member.filename}: unsupported zip compression method")
        if member.flag_bits & 0x1:
            raise _fail(path, f"{member.filename}: encrypted archive member")
        with archive.open(member) as stream:
            arrays[member.filename[:-4]] = _read_npy(stream, member, path)
    return arrays


def _read_npy(stream: Any, member: zipfile.ZipInfo, path: Path) -> np.ndarray:
    """One ``.npy`` member: header checked, then exactly the bytes its shape needs."""
    name = member.filename
    if stream.read(len(_NPY_MAGIC)) != _NPY_MAGIC:
        raise _fail(path, f"{name}: not a .npy array")
    version = tuple(stream.read(2))
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
    else:
        raise _fail(path, f"{name}: unsupported .npy format version {version}")
    if dtype.hasobject:
        raise _fail(
            path,
            f"unreadable {name[:-4]} (it holds Python objects, which only pickle can load; "
            "sortnet reads with allow_pickle=False)",
        )
    if dtype.kind not in "biufcU" or dtype.fields or dtype.subdtype:
        raise _fail(path, f"{name}: dtype {dtype} is not a plain numeric array")
    if len(shape) > 2 or any(extent < 0 for extent in shape):
        raise _fail(path, f"{name}: shape {shape} is not an array of a model file")
    count = math.prod(shape)
    needed = count * dtype.itemsize
    if stream.tell() + needed != member.file_size:
        raise _fail(
            path,
            f"{name}: its header declares shape {shape} ({_size(needed)}) but the member "
            f"holds {_size(member.file_size - stream.tell())} of data",
        )
    data = stream.read(needed)
    if len(data) != needed:
        raise _fail(path, f"{name}: truncated array")
    stream.read(1)  # at the end of the member: zipfile compares its CRC-32 now
    array = np.frombuffer(data, dtype=dtype, count=count) if count else np.empty(0, dtype)
    return array.reshape(shape, order="F" if fortran else "C")

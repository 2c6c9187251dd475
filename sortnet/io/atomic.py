"""Atomic file writes shared by every writer in sortnet (networks, models, ONNX, drawings, rows).

A reader must never see half a file, so data goes to a temporary file beside the
target and is renamed over it. The checks a user's path can fail (a missing
folder, a directory as the target) happen first and name the path the user gave,
never the temporary file.
"""

from __future__ import annotations

import errno
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from sortnet.errors import SortnetError


def check_target(path: str | os.PathLike[str], what: str = "output") -> Path:
    """Return ``path`` as a :class:`~pathlib.Path` if a file can be written there.

    Raises
    ------
    SortnetError
        If the folder does not exist or ``path`` is a directory.

    Examples
    --------
    >>> check_target("model.npz")
    PosixPath('model.npz')
    >>> check_target("no/such/folder/model.npz")
    Traceback (most recent call last):
    ...
    sortnet.errors.SortnetError: cannot write output 'no/such/folder/model.npz': folder 'no/such/folder' does not exist
    """  # noqa: E501
    if not isinstance(path, (str, os.PathLike)):
        raise SortnetError(f"{what} path must be a str or path, got {type(path).__name__}")
    target = Path(os.fspath(path))
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise SortnetError(
            f"cannot write {what} {str(target)!r}: folder {str(folder)!r} does not exist"
        )
    if target.is_dir():
        raise SortnetError(f"cannot write {what} {str(target)!r}: it is a directory")
    return target


def atomic_write(
    path: str | os.PathLike[str], write: Callable[[BinaryIO], object], what: str = "output"
) -> Path:
    """Call ``write(stream)`` on a temporary file beside ``path``, then rename it to ``path``.

    The file gets the permissions ``open()`` would give it (the umask applies), not
    the private ``0600`` of a temporary file. An ``OSError`` names ``path``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     out = atomic_write(pathlib.Path(folder) / "a.txt", lambda s: s.write(b"hi"))
    ...     out.read_bytes()
    b'hi'
    """
    target = check_target(path, what)
    folder = target.parent if str(target.parent) else Path(".")
    try:
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as error:  # e.g. a read-only folder: name the user's path, not the temp file
        raise type(error)(error.errno, error.strerror, str(target)) from None
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, target)
    except OSError as error:  # name the user's path; a short write on a full disk is ENOSPC
        disk_full = _short_write(error) and _free_bytes(folder) < _short_write(error)
        Path(temporary).unlink(missing_ok=True)
        if disk_full:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target)) from error
        if not error.filename:
            error.filename = str(target)
        raise
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def _short_write(error: OSError) -> int:
    """Bytes numpy could not write (its "N requested and M written" carries no errno)."""
    match = re.fullmatch(r"(\d+) requested and (\d+) written", str(error))
    return int(match[1]) - int(match[2]) if error.errno is None and match else 0


def _free_bytes(folder: Path) -> int:
    try:
        info = os.statvfs(folder)
    except (OSError, AttributeError):
        return 1 << 62
    return info.f_bavail * info.f_frsize

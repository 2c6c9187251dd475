"""Atomic file writes shared by every writer in sortnet (networks, models, ONNX, drawings, rows).

A reader must never see half a file, so data goes to a temporary file beside the
target and is renamed over it. The checks a user's path can fail (a missing
folder, a directory as the target) happen first and name the path the user gave,
never the temporary file.

A signal that stops the process (SIGINT, or SIGTERM/SIGHUP as the command line turns
them into exceptions) must not leave the temporary file behind: the file is removed
on any exception, and a signal that arrives while the file is being created is held
until its name is known, then delivered.
"""

from __future__ import annotations

import errno
import os
import re
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
    temporary: str | None = None
    try:
        with _signals_held():  # a signal here would leave a file we have no name for
            try:
                handle, temporary = tempfile.mkstemp(
                    dir=folder, prefix=f".{target.name}.", suffix=".tmp"
                )
            except OSError as error:  # e.g. a read-only folder: name the user's path
                raise type(error)(error.errno, error.strerror, str(target)) from None
        with os.fdopen(handle, "wb") as stream:
            try:
                write(stream)
            except OSError as error:  # e.g. a full disk: name the user's path, not the temp
                if error.filename is not None or error.errno is None:
                    raise
                raise type(error)(error.errno, error.strerror, str(target)) from None
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, target)
    except OSError as error:  # name the user's path; a short write on a full disk is ENOSPC
        disk_full = _short_write(error) and _free_bytes(folder) < _short_write(error)
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
        if disk_full:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target)) from error
        if not error.filename:
            error.filename = str(target)
        raise
    except BaseException:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
        raise
    return target


#: The signals :func:`_signals_held` holds back (those that end a command).
_HELD = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


@contextmanager
def _signals_held() -> Iterator[None]:
    """Record SIGINT/SIGTERM/SIGHUP instead of acting on them; deliver them on exit.

    Python handlers run in the main thread only, and can only be set there; from
    another thread this does nothing (no handler can interrupt that thread anyway).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived: list[int] = []
    # A handler set outside Python (getsignal gives None) cannot be put back: leave it.
    previous = {
        signum: handler for signum in _HELD if (handler := signal.getsignal(signum)) is not None
    }
    for signum in previous:
        signal.signal(signum, lambda number, frame: arrived.append(number))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum in arrived:
            signal.raise_signal(signum)  # now with the real handler, e.g. one that raises


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

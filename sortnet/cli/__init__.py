"""The ``sortnet`` command line.

One module per subcommand (``sortnet/cli/<name>_cmd.py``), each exposing
``register(subparsers)`` which adds its parser and sets ``func`` to a
``run(args) -> int`` callable. :func:`main` wires them together and turns user
mistakes (:class:`~sortnet.errors.SortnetError`, missing files) into one line on
stderr and exit code 2. Exit codes: 0 success, 1 a check failed, 2 usage error;
130, 143 and 129 when SIGINT, SIGTERM or SIGHUP stops the command.

Signals: SIGTERM and SIGHUP are turned into an exception, like SIGINT's
``KeyboardInterrupt``, so that every ``finally`` runs: an atomic write removes its
temporary file and leaves the old output untouched. Python runs the handler between
bytecodes, so a command notices within one block of rows (a first-time numba
compilation finishes first).
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sortnet import __version__
from sortnet.errors import SortnetError

#: Subcommand modules, in the order ``sortnet --help`` lists them.
COMMANDS = (
    "list",
    "info",
    "verify",
    "sort",
    "topk",
    "filter",
    "compile",
    "run",
    "draw",
    "bench",
    "demo",
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

#: Signals that stop a command the way Ctrl-C does (SIGHUP does not exist on Windows).
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class Stopped(BaseException):
    """A stop signal arrived; a ``BaseException`` so ``except Exception`` does not catch it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _stop(signum: int, frame: object) -> None:
    raise Stopped(signum)


@contextmanager
def _stop_signals() -> Iterator[None]:
    """Raise :class:`Stopped` on SIGTERM/SIGHUP while the command runs; restore after."""
    if threading.current_thread() is not threading.main_thread():
        yield  # handlers can only be set from the main thread (main() called from a thread)
        return
    previous = {signum: signal.signal(signum, _stop) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"sortnet: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every available subcommand registered."""
    parser = _Parser(
        prog="sortnet",
        description="Compile sorting networks into neural networks; verify, draw, benchmark.",
    )
    parser.add_argument("--version", action="version", version=f"sortnet {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"sortnet.cli.{name}_cmd")
        except ModuleNotFoundError as error:
            if error.name != f"sortnet.cli.{name}_cmd":
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help, --version and usage errors end here
        return stop.code if isinstance(stop.code, int) else EXIT_USAGE
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        with _stop_signals():
            return int(args.func(args))
    except Stopped as stop:
        name = signal.Signals(stop.signum).name
        print(f"sortnet: stopped by {name}", file=sys.stderr)
        return 128 + stop.signum
    except SortnetError as error:
        print(f"sortnet: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except FileNotFoundError as error:
        print(f"sortnet: error: no such file: {error.filename}", file=sys.stderr)
        return EXIT_USAGE
    except IsADirectoryError as error:
        print(f"sortnet: error: is a directory: {error.filename}", file=sys.stderr)
        return EXIT_USAGE
    except PermissionError as error:
        print(f"sortnet: error: permission denied: {error.filename}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # the reader went away (e.g. '| head'): not an error
        _silence_stdout()
        return EXIT_OK
    except OSError as error:  # e.g. a file where a folder should be, a full disk
        print(f"sortnet: error: {os_error_message(error)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("sortnet: interrupted", file=sys.stderr)
        return 130
    except (MemoryError, RecursionError) as error:  # a limit a check missed: still one line
        what = "out of memory" if isinstance(error, MemoryError) else "input nested too deeply"
        print(f"sortnet: error: {what} ({type(error).__name__})", file=sys.stderr)
        return EXIT_USAGE


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real stdout (e.g. under pytest)
        pass


def os_error_message(error: OSError) -> str:
    """One lower-case line for an ``OSError``: what went wrong and the path, if known.

    Examples
    --------
    >>> import errno
    >>> os_error_message(OSError(errno.ENOSPC, "No space left on device", "out/y.npy"))
    'no space left on device: out/y.npy'
    >>> os_error_message(OSError("80000 requested and 8176 written"))
    'write failed: 80000 requested and 8176 written (is the disk full?)'
    """
    where = f": {error.filename}" if error.filename else ""
    if error.errno == errno.ENOSPC:
        return f"no space left on device{where}"
    if error.errno is None and " requested and " in str(error):  # numpy's short write
        return f"write failed: {error}{where} (is the disk full?)"
    return f"{(error.strerror or str(error)).lower()}{where}"

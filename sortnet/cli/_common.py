"""Arguments shared by the commands that take a network: ``FAMILY N`` or ``FILE``.

Commands that act on a network (``info``, ``verify``, ``sort``, ``compile``,
``draw``, ...) call :func:`add_network_arguments` on their parser and
:func:`network_from_args` in ``run``::

    def register(subparsers):
        parser = subparsers.add_parser("verify", help="...")
        add_network_arguments(parser)
        parser.set_defaults(func=run)

    def run(args):
        net = network_from_args(args)
        ...

The first positional is a family name (see ``sortnet list``) or a network file
(SorterHunter JSON, sortnet JSON or a plain comparator list; see
:func:`sortnet.load_network`). A family needs ``N``, the number of wires; for a
plain comparator-list file ``N`` is optional and overrides ``max wire + 1``.
A family name wins over a file of the same name: write ``./bitonic`` for the file.
Every mistake raises :class:`~sortnet.errors.SortnetError` (or
``FileNotFoundError``), which :func:`sortnet.cli.main` prints as one line with
exit code 2.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from sortnet.errors import SortnetError
from sortnet.generators import FAMILIES, network, selection_network
from sortnet.io import load_network
from sortnet.network import Network

#: The pseudo-family of selection networks: ``selection N --k K``.
SELECTION = "selection"


def add_network_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``FAMILY|FILE``, optional ``N`` and ``--optimize`` to ``parser``.

    Examples
    --------
    >>> parser = argparse.ArgumentParser(prog="demo")
    >>> add_network_arguments(parser)
    >>> args = parser.parse_args(["best", "16", "--optimize", "depth"])
    >>> args.network, args.n, args.optimize
    ('best', '16', 'depth')
    """
    parser.add_argument(
        "network",
        metavar="FAMILY|FILE",
        help=f"a network family ({', '.join(FAMILIES)}), 'selection' (with --k: the "
        "smallest known network for the k-th smallest) or a network file "
        "(SorterHunter JSON, sortnet JSON, or a comparator list such as '0:1 2:3')",
    )
    parser.add_argument(
        "n",
        metavar="N",
        nargs="?",
        help="number of wires: required with FAMILY; for a comparator-list FILE it "
        "overrides max wire + 1",
    )
    parser.add_argument(
        "--optimize",
        choices=("size", "depth"),
        default=None,
        help="for the 'best' family: fewest comparators (default) or fewest layers",
    )


def network_from_args(args: argparse.Namespace) -> Network:
    """Build or load the network named by parsed :func:`add_network_arguments` options.

    Parameters
    ----------
    args : argparse.Namespace
        With attributes ``network`` (family or file), ``n`` (str or None) and,
        optionally, ``optimize`` (``"size"``, ``"depth"`` or None).

    Returns
    -------
    Network

    Raises
    ------
    SortnetError
        A family without ``N``, an ``N`` that is not an integer ``>= 1``, an
        option the family does not take, a name that is neither a family nor an
        existing file, or a malformed file.

    Examples
    --------
    >>> args = argparse.Namespace(network="bitonic", n="8", optimize=None)
    >>> network_from_args(args).size
    24
    >>> network_from_args(argparse.Namespace(network="bitonic", n=None, optimize=None))
    Traceback (most recent call last):
    ...
    sortnet.errors.SortnetError: family 'bitonic' needs N, the number of wires (e.g. 'bitonic 8')
    """
    source = args.network
    optimize = getattr(args, "optimize", None)
    if source == SELECTION:
        return _selection_from_args(args)
    if source in FAMILIES:
        if args.n is None:
            raise SortnetError(
                f"family {source!r} needs N, the number of wires (e.g. '{source} 8')"
            )
        if optimize is not None and "optimize" not in FAMILIES[source].options:
            raise SortnetError(f"--optimize applies to the 'best' family, not to {source!r}")
        options = {} if optimize is None else {"optimize": optimize}
        return network(source, parse_wire_count(args.n), **options)
    if not Path(source).exists():
        raise SortnetError(
            f"{source!r} is neither a network family ({', '.join(FAMILIES)}) nor an existing file"
        )
    if optimize is not None:
        raise SortnetError("--optimize applies to the 'best' family, not to a file")
    n = None if args.n is None else parse_wire_count(args.n)
    return load_network(Path(source), n=n)


def _selection_from_args(args: argparse.Namespace) -> Network:
    """``selection N --k K``: :func:`sortnet.selection_network` (the smallest known)."""
    k = getattr(args, "k", None)
    if args.n is None or k is None:
        raise SortnetError("'selection' needs N and --k (1-based, or median, min, max)")
    if getattr(args, "optimize", None) is not None:
        raise SortnetError("--optimize applies to the 'best' family, not to 'selection'")
    if isinstance(k, str):
        k = int(k) if k.strip().lstrip("-").isdigit() else k.strip().lower()
    return selection_network(parse_wire_count(args.n), k)


def parse_wire_count(text: str) -> int:
    """Parse ``N`` from the command line: an integer ``>= 1``.

    Examples
    --------
    >>> parse_wire_count("16")
    16
    >>> parse_wire_count("sixteen")
    Traceback (most recent call last):
    ...
    sortnet.errors.SortnetError: N must be an integer >= 1, got 'sixteen'
    """
    # ASCII digits only: int() also takes "٣", " 4" and "1_000".
    value = int(text) if re.fullmatch(r"[0-9]+", text) else 0
    if value < 1:
        raise SortnetError(f"N must be an integer >= 1, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An argparse ``type=`` for counts that must be integers ``>= 1``.

    Raises ``argparse.ArgumentTypeError``, which argparse reports as a usage error.

    Examples
    --------
    >>> positive_int("100")
    100
    >>> positive_int("0")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be an integer >= 1, got '0'
    """
    value = int(text) if re.fullmatch(r"[0-9]+", text) else 0  # not "٣", " 4" or "1_0"
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """An argparse ``type=`` for limits in seconds: finite numbers ``> 0``.

    Examples
    --------
    >>> positive_float("2.5")
    2.5
    >>> positive_float("nan")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be a number > 0, got 'nan'
    """
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}")
    return value


def nonnegative_int(text: str) -> int:
    """An argparse ``type=`` for seeds: integers ``>= 0``.

    Examples
    --------
    >>> nonnegative_int("0")
    0
    >>> nonnegative_int("-1")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be an integer >= 0, got '-1'
    """
    value = int(text) if re.fullmatch(r"[0-9]+", text) else -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    return value

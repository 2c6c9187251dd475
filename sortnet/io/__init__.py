"""Reading and writing networks: SorterHunter JSON, plain comparator lists, sortnet JSON.

:func:`load_network` takes a path or the text itself and detects the format;
:func:`save_network` writes sortnet's own JSON atomically. No pickle: every
format is plain text.

sortnet JSON (``"format": "sortnet-network"``, ``"version": 1``)::

    {
      "format": "sortnet-network", "version": 1,
      "n": 4, "name": "odd-even-merge-4", "family": "odd-even-merge",
      "descending": false, "size": 5, "depth": 3,
      "comparators": [[0, 2], [1, 3], [0, 1], [2, 3], [1, 2]],
      "outputs": [[0, 0], [1, 1], [2, 2], [3, 3]],
      "metadata": {}
    }

``comparators`` are ``[i, j]`` pairs (minimum to wire ``i``); ``outputs`` lists
``[position, wire]`` pairs (omitted: every position reads its own wire, or the
mirrored wire when ``descending``); ``size`` and ``depth`` are optional and
checked when present; ``metadata`` holds any other JSON-able graph attributes.
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
import sys
from pathlib import Path
from typing import Any, BinaryIO

from sortnet import nodes
from sortnet.errors import NetworkFormatError, SortnetError
from sortnet.io._readers import (
    FORMAT_NAME,
    FORMAT_VERSION,
    RESERVED,
    from_pair_list,
    from_sorterhunter,
    from_sortnet_json,
)
from sortnet.io.atomic import atomic_write
from sortnet.network import Network
from sortnet.schedule import asap_layer_indices
from sortnet.validate import MAX_COMPARATORS


def load_network(source: str | os.PathLike[str], *, n: int | None = None) -> Network:
    """Read a network from a file or from text.

    Parameters
    ----------
    source : str or os.PathLike
        A path, or the text itself. A ``PathLike``, an existing path, or a string
        that looks like a file name (no brackets, colons or line breaks) is read
        as a file; anything else is parsed as text. Formats, detected from the
        content:

        - SorterHunter JSON: fields ``N``, ``L`` (size), ``D`` (depth),
          ``symmetric`` and ``nw`` (``[i, j]`` pairs, minimum to ``i``); ``L``
          and ``D`` are checked against the network.
        - sortnet JSON, as written by :func:`save_network` (see module docs).
        - A plain comparator list: ``[(0,1),(2,3)]``, ``[[0,1],[2,3]]``,
          ``0:1 2:3``, or one ``i j`` / ``i,j`` pair per line; pairs may be
          separated by commas, semicolons, whitespace or line breaks, and may be
          grouped into bracketed layers. ``#`` starts a comment.
    n : int, optional
        Number of wires. Plain lists default to ``max wire + 1``; for JSON
        formats it must agree with the file when given.

    Returns
    -------
    Network
        ``graph["family"]`` is ``"sorterhunter"`` or ``"comparator-list"`` for
        those formats and whatever was saved for sortnet JSON.

    Raises
    ------
    FileNotFoundError
        If a path-like ``source`` does not exist ("no such file").
    NetworkFormatError
        If the content cannot be parsed; the message names the file (or
        ``<text>``) and the problem (bad JSON with line and column, missing
        field, duplicate key, non-integer or out-of-range wire, L/D mismatch,
        nesting too deep, a number too long to read, ...). Also for a path that
        is not a regular file (a device such as ``/dev/zero``, a FIFO) or a file
        larger than :data:`MAX_FILE_BYTES`, refused before anything is read.

    Examples
    --------
    >>> net = load_network("0:1 2:3 0:2 1:3 1:2")
    >>> net.n, net.size, net.depth
    (4, 5, 3)
    >>> load_network("[(0,1),(1,2)]", n=4).n
    4
    >>> load_network('{"N": 2, "L": 1, "D": 1, "nw": [[0, 1]]}').comparators
    [(0, 1)]
    >>> load_network("[(0,1),(1,x)]")
    Traceback (most recent call last):
    ...
    sortnet.errors.NetworkFormatError: <text>: pair 2 (1,x): wire 'x' is not an integer
    """
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise SortnetError(f"n must be an integer >= 1, got {n!r}")
    path = _as_path(source)
    if path is None:
        return parse_network(str(source), label="<text>", n=n)
    return parse_network(_read_text(path), label=str(path), n=n, stem=path.stem)


def parse_network(
    text: str, *, label: str = "<text>", n: int | None = None, stem: str = ""
) -> Network:
    """Parse network ``text`` in any supported format; errors are prefixed by ``label``.

    Examples
    --------
    >>> parse_network("[[0, 1]]", label="pairs.txt").comparators
    [(0, 1)]
    """
    if len(text) > MAX_FILE_BYTES:
        raise NetworkFormatError(f"{label}: {_too_big(len(text), 'characters')}")
    stripped = text.strip()
    if stripped.startswith("{"):
        data = _parse_json(stripped, label)
        if not isinstance(data, dict):  # pragma: no cover - "{" always parses to a dict
            raise NetworkFormatError(f"{label}: expected a JSON object")
        if "format" in data:
            return from_sortnet_json(data, label, n)
        if "nw" in data or "N" in data:
            return from_sorterhunter(data, label, n, stem)
        raise NetworkFormatError(
            f'{label}: unrecognised JSON: expected sortnet JSON ("format": '
            f'"{FORMAT_NAME}") or SorterHunter JSON (fields N, L, D, nw)'
        )
    return from_pair_list(text, label, n, stem)


def save_network(net: Network, path: str | os.PathLike[str]) -> Path:
    """Write ``net`` as sortnet JSON, atomically.

    The JSON goes to a temporary file in the target directory which then
    replaces ``path`` (``os.replace``), so readers never see half a file.

    Parameters
    ----------
    net : Network
        A comparator network (counting networks are rebuilt by
        :func:`sortnet.counting_network`, not saved).
    path : str or os.PathLike
        Destination; its directory must exist.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    SortnetError
        If ``net`` is not a comparator network.

    Examples
    --------
    >>> import tempfile, os, sortnet
    >>> folder = tempfile.mkdtemp()
    >>> target = save_network(sortnet.network("bitonic", 8), os.path.join(folder, "b8.json"))
    >>> load_network(target) == sortnet.network("bitonic", 8)
    True
    """
    if not isinstance(net, Network) or net.kind != nodes.COMPARATOR_KIND:
        raise SortnetError("save_network writes comparator networks only")
    path = Path(os.fspath(path))
    text = _format_document(network_to_dict(net), asap_layer_indices(net.n, net.comparators))

    def write(stream: BinaryIO) -> None:
        stream.write(text.encode("utf-8"))
        stream.flush()
        os.fsync(stream.fileno())

    return atomic_write(path, write, "network")


def network_to_dict(net: Network) -> dict[str, Any]:
    """The sortnet JSON document of a comparator network, as a dict.

    Examples
    --------
    >>> import sortnet
    >>> doc = network_to_dict(sortnet.network("odd-even-merge", 2))
    >>> doc["format"], doc["comparators"], doc["outputs"]
    ('sortnet-network', [[0, 1]], [[0, 0], [1, 1]])
    """
    graph = net.graph.graph
    metadata = {
        key: value for key, value in graph.items() if key not in RESERVED and _json_able(value)
    }
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "n": net.n,
        "name": net.name,
        "family": graph.get("family"),
        "descending": net.descending,
        "size": net.size,
        "depth": net.depth,
        "comparators": [list(pair) for pair in net.comparators],
        "outputs": [[position, wire] for position, wire in net.outputs.items()],
        "metadata": metadata,
    }


# -- helpers -------------------------------------------------------------------------------

#: Largest network file (or text) read: 2**20 comparators (sortnet's limit) at 32
#: bytes each, more than any format spends on a pair (``[65534, 65535], `` is 16).
#: Reading stops there, so ``/dev/zero`` or a huge file never exhausts memory.
MAX_FILE_BYTES = 32 * MAX_COMPARATORS


def _too_big(size: int, unit: str = "bytes") -> str:
    limit = MAX_FILE_BYTES // 2**20
    return (
        f"{size} {unit} is more than the limit for network files of {limit} MB "
        f"({MAX_COMPARATORS} comparators, sortnet's limit, at 32 bytes each)"
    )


def _read_text(path: Path) -> str:
    """The UTF-8 text of a network file, after checking its type and size."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise FileNotFoundError(errno.ENOENT, "no such file", str(path)) from None
    if stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(errno.EISDIR, "is a directory", str(path))
    if not stat.S_ISREG(info.st_mode):
        # Reading a device or a FIFO could block forever or never end (/dev/zero).
        raise NetworkFormatError(f"{path}: not a regular file (a {_file_kind(info.st_mode)})")
    if info.st_size > MAX_FILE_BYTES:
        raise NetworkFormatError(f"{path}: {_too_big(info.st_size)}")
    with path.open("rb") as stream:
        data = stream.read(MAX_FILE_BYTES + 1)  # the size may change (or lie, as in /proc)
    if len(data) > MAX_FILE_BYTES:
        raise NetworkFormatError(f"{path}: {_too_big(len(data))}+")
    if data.startswith(b"PK\x03\x04"):  # a zip archive: most likely a compiled model (.npz)
        raise NetworkFormatError(f"{path}: a zip archive (a compiled model?), not a network file")
    try:
        return data.decode("utf-8-sig")  # a byte-order mark (Windows editors) is not content
    except UnicodeDecodeError as error:
        if data.startswith(b"PK"):  # a zip archive: most likely a compiled model (.npz)
            raise NetworkFormatError(
                f"{path}: a zip archive (a compiled model?), not a network file"
            ) from None
        if data.startswith(b"\x93NUMPY"):
            raise NetworkFormatError(f"{path}: a numpy .npy array, not a network file") from None
        if data.startswith((b"\xff\xfe", b"\xfe\xff")) and _decodes(data, "utf-16"):
            raise NetworkFormatError(f"{path}: UTF-16 text; save the file as UTF-8") from None
        raise NetworkFormatError(f"{path}: not a UTF-8 text file ({error.reason})") from None


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _file_kind(mode: int) -> str:
    kinds = (
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISSOCK, "socket"),
    )
    return next((name for test, name in kinds if test(mode)), "special file")


def _parse_json(text: str, label: str) -> Any:
    """``json.loads`` with every failure as a :class:`NetworkFormatError` naming ``label``."""
    try:
        return json.loads(text, object_pairs_hook=lambda pairs: _no_duplicates(pairs, label))
    except NetworkFormatError:  # from _no_duplicates (a ValueError too: keep it as it is)
        raise
    except json.JSONDecodeError as error:
        raise NetworkFormatError(
            f"{label}: bad JSON at line {error.lineno}, column {error.colno}: {error.msg}"
        ) from None
    except RecursionError:  # [[[[... thousands deep: no network format nests past 3
        raise NetworkFormatError(f"{label}: JSON nested too deeply") from None
    except ValueError as error:  # Python's limit on digits in an int (sys.int_info)
        if "digits" not in str(error):
            raise
        raise NetworkFormatError(
            f"{label}: a number in the JSON has more than {sys.get_int_max_str_digits()} digits"
        ) from None


def _no_duplicates(pairs: list[tuple[str, Any]], label: str) -> dict[str, Any]:
    """A JSON object's dict; a repeated key would silently keep only its last value."""
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise NetworkFormatError(f"{label}: duplicate key {key!r} in a JSON object")
        data[key] = value
    return data


def _as_path(source: str | os.PathLike[str]) -> Path | None:
    """The path to read, or None when ``source`` is the network text itself."""
    if not isinstance(source, str):
        if isinstance(source, os.PathLike):
            return Path(os.fspath(source))
        raise SortnetError(f"source must be a path or text, got {type(source).__name__}")
    if "\n" in source or not source.strip():
        return None
    try:
        if Path(source).exists():
            return Path(source)
    except OSError:  # e.g. a name too long for the file system: it is text
        return None
    # Text formats all need brackets, colons or digits-only content; file names do not.
    if any(ch in source for ch in "([{:") or re.fullmatch(r"[\d\s,;]+", source):
        return None
    return Path(source)


def _format_document(document: dict[str, Any], layer_of: list[int]) -> str:
    """Indented JSON with each run of same-layer comparators on one line (diff-friendly)."""
    lines = []
    for key, value in document.items():
        if key == "comparators" and value:
            rows: list[list[str]] = []
            for index, pair in enumerate(value):
                if index == 0 or layer_of[index] != layer_of[index - 1]:
                    rows.append([])
                rows[-1].append(json.dumps(pair))
            body = ",\n".join("    " + ", ".join(row) for row in rows)
            lines.append(f'  "comparators": [\n{body}\n  ]')
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def _json_able(value: object) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


__all__ = [
    "FORMAT_NAME",
    "MAX_FILE_BYTES",
    "FORMAT_VERSION",
    "load_network",
    "network_to_dict",
    "parse_network",
    "save_network",
]

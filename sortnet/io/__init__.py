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
        field, non-integer or out-of-range wire, L/D mismatch, ...).

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
    if not path.exists():
        raise FileNotFoundError(errno.ENOENT, "no such file", str(path))
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a directory", str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        with path.open("rb") as stream:
            magic = stream.read(6)
        if magic.startswith(b"PK"):  # a zip archive: most likely a compiled model (.npz)
            raise NetworkFormatError(
                f"{path}: a zip archive (a compiled model?), not a network file"
            ) from None
        if magic == b"\x93NUMPY":
            raise NetworkFormatError(f"{path}: a numpy .npy array, not a network file") from None
        raise NetworkFormatError(f"{path}: not a UTF-8 text file ({error.reason})") from None
    return parse_network(text, label=str(path), n=n, stem=path.stem)


def parse_network(
    text: str, *, label: str = "<text>", n: int | None = None, stem: str = ""
) -> Network:
    """Parse network ``text`` in any supported format; errors are prefixed by ``label``.

    Examples
    --------
    >>> parse_network("[[0, 1]]", label="pairs.txt").comparators
    [(0, 1)]
    """
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as error:
            raise NetworkFormatError(
                f"{label}: bad JSON at line {error.lineno}, column {error.colno}: {error.msg}"
            ) from None
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
    "FORMAT_VERSION",
    "load_network",
    "network_to_dict",
    "parse_network",
    "save_network",
]

"""``sortnet info FAMILY N | FILE``: size, depth, comparators and layers of a network."""

from __future__ import annotations

import argparse
import json
from typing import Any

from sortnet.cli._common import add_network_arguments, network_from_args
from sortnet.errors import SortnetError
from sortnet.network import Network

#: Past this many wires sorting with a network is slower than ``np.sort`` (README, Benchmarks).
PAYS_UP_TO_N = 64
SLOWER_NOTE = (
    "note:   past n = 64 sortnet.sort is slower than np.sort on the development machine "
    "(0.31-0.68x at n = 128-256, bitonic and odd-even merge, float32); networks pay up "
    "to n = 64"
)

#: The keys of ``sortnet info --json``, in order.
JSON_KEYS = ("family", "n", "size", "depth", "source", "comparators", "layers")


def register(subparsers: Any) -> None:
    """Add the ``info`` subcommand."""
    parser = subparsers.add_parser(
        "info",
        help="describe a network: size, depth, comparators, layers",
        description="Describe a network given as FAMILY N, as 'selection N --k K' (the "
        "smallest known network for the k-th smallest) or as a network FILE.",
    )
    add_network_arguments(parser)
    parser.add_argument(
        "--k",
        default=None,
        help="with 'selection': the rank (1-based, or median, min, max)",
    )
    parser.add_argument("--json", action="store_true", help="print the description as JSON")
    parser.add_argument(
        "--allow-missing-digest",
        action="store_true",
        help="accept a model file without a content digest (format version 1, written by "
        "sortnet 0.1.0), whose modification cannot be detected",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Describe the network named by ``args``; exit code 0 (errors propagate to main)."""
    # One description dict per kind of subject; a model-file branch slots in here.
    from sortnet.cli._model import is_model_file, print_model_info

    if is_model_file(args.network):
        trust = getattr(args, "allow_missing_digest", False)
        return print_model_info(args.network, as_json=args.json, allow_missing_digest=trust)
    if args.k is not None and args.network != "selection":
        raise SortnetError("--k applies to 'selection N --k K' in info")
    net = network_from_args(args)
    info = network_info(net)
    print(json.dumps(info) if args.json else format_info(info, kernel=_kernel(net)))
    return 0


def _kernel(net: Network) -> str | None:
    """Which kernels ``sortnet.sort`` and ``argsort`` run on float32 rows of ``net``."""
    if net.kind != "comparator":
        return None
    import numpy as np

    from sortnet.circuit import kernels

    sort = kernels.describe(net, np.float32)
    argsort = kernels.describe(net, np.float32, kind="argsort")
    return f"{sort} for float32 rows" + ("" if argsort == sort else f"; argsort: {argsort}")


def network_info(net: Network) -> dict[str, Any]:
    """The ``info`` description of a network (keys :data:`JSON_KEYS`).

    Examples
    --------
    >>> import sortnet
    >>> info = network_info(sortnet.network("odd-even-merge", 4))
    >>> list(info)
    ['family', 'n', 'size', 'depth', 'source', 'comparators', 'layers']
    >>> info["family"], info["size"], info["depth"], info["layers"][0]
    ('odd-even-merge', 5, 3, [[0, 2], [1, 3]])
    """
    return {
        "family": net.graph.graph.get("family"),
        "n": net.n,
        "size": net.size,
        "depth": net.depth,
        "source": net.graph.graph.get("source"),
        "comparators": [list(pair) for pair in net.comparators],
        "layers": [[list(pair) for pair in layer] for layer in net.layers()],
    }


def format_info(info: dict[str, Any], kernel: str | None = None) -> str:
    """Human-readable text for a description from :func:`network_info`.

    ``kernel``, when given, names the kernel ``sortnet.sort`` runs on the network.

    Examples
    --------
    >>> print(format_info({"family": "best", "n": 2, "size": 1, "depth": 1,
    ...                    "comparators": [[0, 1]], "layers": [[[0, 1]]]}))
    family: best
    n:      2
    size:   1
    depth:  1
    layers:
      1: (0,1)
    """
    lines = [
        f"family: {info['family'] or '-'}",
        f"n:      {info['n']}",
        f"size:   {info['size']}",
        f"depth:  {info['depth']}",
        *([f"source: {info['source']}"] if info.get("source") else []),
        *([f"kernel: {kernel}"] if kernel else []),
        "layers:" if info["layers"] else "layers: (none)",
    ]
    if info["n"] > PAYS_UP_TO_N:
        lines.insert(4, SLOWER_NOTE)
    width = len(str(len(info["layers"])))
    for number, layer in enumerate(info["layers"], start=1):
        pairs = " ".join(f"({i},{j})" for i, j in layer)
        lines.append(f"  {number:>{width}}: {pairs}")
    return "\n".join(lines)

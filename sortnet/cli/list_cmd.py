"""``sortnet list``: the network families, with their size and depth at a sample n.

The last row is the selection library (``selection N --k K`` in the other commands):
the smallest known network for one rank, shown at the median.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from sortnet.cli._common import parse_wire_count
from sortnet.errors import SortnetError
from sortnet.generators import FAMILIES, network, selection_network
from sortnet.generators.library import available

DEFAULT_SAMPLE_N = 16


def register(subparsers: Any) -> None:
    """Add the ``list`` subcommand."""
    parser = subparsers.add_parser(
        "list",
        help="list the network families",
        description="List the network families with one-line descriptions and the size "
        "and depth of each at a sample n.",
    )
    parser.add_argument(
        "--n",
        dest="sample_n",
        default=str(DEFAULT_SAMPLE_N),
        metavar="N",
        help=f"wires for the size/depth columns (default {DEFAULT_SAMPLE_N})",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON list instead")
    parser.set_defaults(func=run)


def family_rows(n: int) -> list[dict[str, Any]]:
    """One record per family: name, description, and size/depth at ``n`` (None if unsupported).

    Examples
    --------
    >>> [(row["family"], row["size"], row["depth"]) for row in family_rows(4)][:2]
    [('bubble', 6, 5), ('insertion', 6, 5)]
    >>> [(row["family"], row["size"]) for row in family_rows(65)[-2:]]
    [('best', None), ('selection', 416)]
    >>> family_rows(25)[-1]["size"]  # the median: SorterHunter's Median_25_85_16
    85
    """
    rows = []
    for name, spec in FAMILIES.items():
        size = depth = None
        if spec.max_n is None or n <= spec.max_n:
            try:
                net = network(name, n)
            except SortnetError:  # past the comparator limit: shown as unsupported
                pass
            else:
                size, depth = net.size, net.depth
        rows.append(
            {"family": name, "description": spec.summary, "n": n, "size": size, "depth": depth}
        )
    medians = available("median")
    selection = selection_network(n, "median")
    rows.append(
        {
            "family": "selection",
            "description": "smallest known network for the k-th smallest (median shown; "
            f"SorterHunter medians n = {medians[0]}..{medians[-1]}; 'selection N --k K')",
            "n": n,
            "size": selection.size,
            "depth": selection.depth,
        }
    )
    return rows


def run(args: argparse.Namespace) -> int:
    """Print the families; exit code 0."""
    n = parse_wire_count(args.sample_n)
    rows = family_rows(n)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(row["family"]) for row in rows)
    size_head, depth_head = f"size@{n}", f"depth@{n}"
    print(f"{'family':<{width}}  {size_head:>8}  {depth_head:>8}  description")
    for row in rows:
        size = "-" if row["size"] is None else row["size"]
        depth = "-" if row["depth"] is None else row["depth"]
        print(f"{row['family']:<{width}}  {size:>8}  {depth:>8}  {row['description']}")
    return 0

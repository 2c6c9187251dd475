"""``sortnet list``: the network families, with their size and depth at a sample n.

The last row is the selection library (``selection N --k K`` in the other commands):
the smallest known network for one rank, shown at the median.
"""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Callable
from typing import Any

from sortnet.cli._common import parse_wire_count
from sortnet.errors import SortnetError
from sortnet.generators import FAMILIES, network, selection_network
from sortnet.generators._common import (
    batcher_size_bound,
    check_n,
    check_size,
    next_power_of_two,
    prune_to,
)
from sortnet.generators.library import available
from sortnet.schedule import asap_layer_indices

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


#: Largest n whose selection-network size ``sortnet list`` computes (see family_rows).
SELECTION_LIST_MAX_N = 256


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
            # Past the comparator limit the family is shown as unsupported.
            with contextlib.suppress(SortnetError):
                size, depth = size_and_depth(name, n)
        rows.append(
            {"family": name, "description": spec.summary, "n": n, "size": size, "depth": depth}
        )
    medians = available("median")
    # Past SELECTION_LIST_MAX_N the selection network is a pruned family network, which
    # costs building whole networks: the list (meant to be instant) leaves it out.
    selection = selection_network(n, "median") if n <= SELECTION_LIST_MAX_N else None
    rows.append(
        {
            "family": "selection",
            "description": "smallest known network for the k-th smallest (median shown; "
            f"SorterHunter medians n = {medians[0]}..{medians[-1]}; 'selection N --k K')",
            "n": n,
            "size": None if selection is None else selection.size,
            "depth": None if selection is None else selection.depth,
        }
    )
    return rows


def size_and_depth(family: str, n: int) -> tuple[int, int]:
    """Size and depth of a family's network on ``n`` wires.

    From the comparator list alone where the family has one (building the graph of
    a large network takes seconds: ``sortnet list --n 2000`` took 7 s); the same
    size limit as :func:`sortnet.network` applies.

    Examples
    --------
    >>> size_and_depth("bitonic", 16), size_and_depth("best", 16)
    ((80, 10), (60, 10))
    >>> all(size_and_depth(name, n) == (network(name, n).size, network(name, n).depth)
    ...     for name in FAMILIES if name != "best" for n in (1, 2, 3, 7, 12, 33))
    True
    """
    n = check_n(n)
    cheap = _comparator_lists().get(family)
    if cheap is None:
        net = network(family, n)
        return net.size, net.depth
    bound, comparators = cheap
    check_size(family, n, bound(n))
    pairs = comparators(n)
    return len(pairs), max(asap_layer_indices(n, pairs), default=-1) + 1


def _comparator_lists() -> dict[str, tuple[Callable[[int], int], Callable[[int], Any]]]:
    """``family: (size bound, comparators)`` for the families that expose them."""
    from sortnet.generators.batcher import merge_exchange
    from sortnet.generators.bitonic import standard_bitonic
    from sortnet.generators.bubble import bubble_comparators
    from sortnet.generators.insertion import insertion_comparators
    from sortnet.generators.pairwise import pairwise_comparators
    from sortnet.generators.transposition import transposition_comparators

    def quadratic(n: int) -> int:
        return n * (n - 1) // 2

    def bitonic(n: int) -> Any:
        return prune_to(n, standard_bitonic(next_power_of_two(n)))

    return {
        "bubble": (quadratic, bubble_comparators),
        "insertion": (quadratic, insertion_comparators),
        "odd-even-transposition": (quadratic, transposition_comparators),
        "odd-even-merge": (batcher_size_bound, merge_exchange),
        "bitonic": (batcher_size_bound, bitonic),
        "pairwise": (batcher_size_bound, pairwise_comparators),
    }


def run(args: argparse.Namespace) -> int:
    """Print the families; exit code 0."""
    n = check_n(parse_wire_count(args.sample_n))  # past 65536 wires no family exists
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

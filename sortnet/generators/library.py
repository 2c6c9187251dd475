"""The packaged SorterHunter library: best-known sorting and median networks, as data.

The networks live in ``sortnet/generators/data/`` (``sorters.json``, ``medians.json``,
with SorterHunter's MIT ``LICENSE`` and a README on their provenance) and are read
once, on first use. ``python -m sortnet.devtools.sorterhunter_data`` regenerates them.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources

from sortnet.network import Comparator

#: The kinds of packaged network and their data files.
KIND_FILES = {"sorter": "sorters.json", "median": "medians.json"}
#: Largest n with a packaged sorting network.
MAX_N = 64
#: The variants kept for each n: fewest comparators, or fewest layers.
OPTIMIZE_CHOICES = ("size", "depth")


@dataclass(frozen=True)
class LibraryNetwork:
    """One packaged network.

    Attributes
    ----------
    n : int
        Number of wires.
    size, depth : int
        Comparators and layers (the ``L`` and ``D`` of the source file name).
    source : str
        The SorterHunter file it comes from, e.g. ``"Sort_32_185_14"``.
    comparators : tuple of (int, int)
        The comparators in order; the minimum goes to the first wire.
    """

    n: int
    size: int
    depth: int
    source: str
    comparators: tuple[Comparator, ...]


@functools.cache
def _networks(kind: str) -> dict[int, tuple[LibraryNetwork, ...]]:
    """Every packaged network of ``kind`` ("sorter" or "median"), by n."""
    path = resources.files("sortnet.generators") / "data" / KIND_FILES[kind]
    document = json.loads(path.read_text(encoding="utf-8"))
    table = {}
    for key, entries in document["networks"].items():
        nets = []
        for entry in entries:
            flat = entry["nw"]
            pairs = tuple(zip(flat[::2], flat[1::2], strict=True))
            nets.append(LibraryNetwork(int(key), entry["L"], entry["D"], entry["file"], pairs))
        table[int(key)] = tuple(nets)
    return table


def available(kind: str) -> list[int]:
    """The ``n`` for which a network of ``kind`` is packaged.

    Examples
    --------
    >>> ns = available("sorter")
    >>> ns[0], ns[-1], len(ns)
    (2, 64, 63)
    >>> available("median")[:3], available("median")[-1]
    ([3, 4, 5], 64)
    """
    return sorted(_networks(kind))


def lookup(kind: str, n: int, optimize: str = "size") -> LibraryNetwork | None:
    """The packaged ``kind`` network on ``n`` wires with the fewest comparators or layers.

    ``optimize="size"``: fewest comparators, ties to fewer layers; ``"depth"``: fewest
    layers, ties to fewer comparators. None when none is packaged for ``n``.

    Examples
    --------
    >>> net = lookup("sorter", 32)
    >>> net.source, net.size, net.depth
    ('Sort_32_185_14', 185, 14)
    >>> lookup("median", 25, "depth").source
    'Median_25_94_13'
    >>> lookup("median", 2) is None
    True
    """
    nets = _networks(kind).get(n)
    if not nets:
        return None
    if optimize == "depth":
        return min(nets, key=lambda net: (net.depth, net.size))
    return min(nets, key=lambda net: (net.size, net.depth))


def variants(kind: str, n: int) -> tuple[LibraryNetwork, ...]:
    """Every packaged ``kind`` network on ``n`` wires (one or two), size-optimal first."""
    return tuple(sorted(_networks(kind).get(n, ()), key=lambda net: (net.size, net.depth)))

"""Network families: one builder per module, one registry, one entry point.

Every family builds a sorting network for any ``n >= 1`` (``best`` for
``n <= 64``, from the packaged SorterHunter library in :mod:`.library`). Use
:func:`network` with a family name, or call a builder directly
(``sortnet.generators.bitonic(16)``). :data:`FAMILIES` maps each name to a
:class:`Family` record (builder, one-line summary, accepted options).
:func:`selection_network` builds the smallest known network for one rank k.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sortnet.errors import SortnetError
from sortnet.generators.batcher import odd_even_merge
from sortnet.generators.best import MAX_BEST_N, best
from sortnet.generators.bitonic import bitonic
from sortnet.generators.bubble import bubble
from sortnet.generators.insertion import insertion
from sortnet.generators.pairwise import pairwise
from sortnet.generators.selection import selection_network
from sortnet.generators.transposition import odd_even_transposition
from sortnet.network import Network


@dataclass(frozen=True)
class Family:
    """A registered network family.

    Attributes
    ----------
    name : str
        The name :func:`network` and the CLI accept.
    builder : callable
        ``builder(n, **options) -> Network``.
    summary : str
        One line for ``sortnet list``.
    options : tuple of str
        Keyword options the builder accepts.
    max_n : int or None
        Largest supported ``n`` (``None``: unbounded).
    """

    name: str
    builder: Callable[..., Network]
    summary: str
    options: tuple[str, ...] = ("descending",)
    max_n: int | None = None


#: Registered families by name, in the order ``sortnet list`` shows them.
FAMILIES: dict[str, Family] = {
    family.name: family
    for family in (
        Family("bubble", bubble, "bubble sort: n(n-1)/2 neighbour comparators, 2n-3 layers"),
        Family("insertion", insertion, "insertion sort: n(n-1)/2 comparators, 2n-3 layers"),
        Family(
            "odd-even-transposition",
            odd_even_transposition,
            "n alternating rounds of neighbour comparators",
        ),
        Family(
            "odd-even-merge",
            odd_even_merge,
            "Batcher's odd-even merge sort (merge exchange), O(n log^2 n)",
        ),
        Family("bitonic", bitonic, "Batcher's bitonic sorter, standard form, O(n log^2 n)"),
        Family("pairwise", pairwise, "Parberry's pairwise sorting network, O(n log^2 n)"),
        Family(
            "best",
            best,
            "best-known networks for n <= 64, SorterHunter (--optimize size|depth)",
            options=("optimize", "descending"),
            max_n=MAX_BEST_N,
        ),
    )
}


def list_families() -> list[str]:
    """Names of the registered network families.

    Examples
    --------
    >>> list_families()  # doctest: +NORMALIZE_WHITESPACE
    ['bubble', 'insertion', 'odd-even-transposition', 'odd-even-merge', 'bitonic',
     'pairwise', 'best']
    """
    return list(FAMILIES)


def network(family: str, n: int, **options: Any) -> Network:
    """Build the sorting network of a named family on ``n`` wires.

    Parameters
    ----------
    family : str
        One of :func:`list_families` (see ``sortnet list``).
    n : int
        Number of wires, ``n >= 1`` (``best``: ``n <= 64``).
    **options
        Family options: ``descending=True`` (every family) reverses the output
        order; ``optimize="size"|"depth"`` selects the ``best`` variant.

    Returns
    -------
    Network
        Labelled ``graph["family"] == family`` and named ``"<family>-<n>"``.

    Raises
    ------
    SortnetError
        For an unknown family (the message lists the known ones), an ``n`` that
        is not an integer ``>= 1``, or an option the family does not take.

    Examples
    --------
    >>> net = network("bitonic", 16)
    >>> net.name, net.size, net.depth
    ('bitonic-16', 80, 10)
    >>> network("odd-even-merge", 4).size
    5
    >>> network("best", 16, optimize="depth").depth
    9
    >>> network("best", 48, optimize="depth").depth
    18
    >>> network("quick", 4)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    sortnet.errors.SortnetError: unknown family 'quick'; known families: bubble, insertion, ...
    """
    spec = FAMILIES.get(family) if isinstance(family, str) else None
    if spec is None:
        raise SortnetError(f"unknown family {family!r}; known families: {', '.join(FAMILIES)}")
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        raise SortnetError(
            f"family {family!r} takes no option {unknown[0]!r}; "
            f"its options: {', '.join(spec.options)}"
        )
    return spec.builder(n, **options)


__all__ = [
    "FAMILIES",
    "Family",
    "best",
    "bitonic",
    "bubble",
    "insertion",
    "list_families",
    "network",
    "odd_even_merge",
    "odd_even_transposition",
    "pairwise",
    "selection_network",
]

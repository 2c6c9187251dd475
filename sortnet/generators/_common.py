"""Argument checks and finishing steps shared by the family builders."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sortnet.errors import SortnetError
from sortnet.network import Comparator, Network


def check_n(n: object) -> int:
    """Return ``n`` if it is an integer ``>= 1``, else raise :class:`SortnetError`.

    Examples
    --------
    >>> check_n(4)
    4
    >>> check_n(0)
    Traceback (most recent call last):
    ...
    sortnet.errors.SortnetError: n must be an integer >= 1, got 0
    """
    # bool is an int subclass; True as a wire count is always a mistake.
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise SortnetError(f"n must be an integer >= 1, got {n!r}")
    return n


def check_flag(value: object, option: str) -> bool:
    """Return ``value`` if it is a bool, else raise :class:`SortnetError` naming ``option``."""
    if not isinstance(value, bool):
        raise SortnetError(f"option {option!r} must be True or False, got {value!r}")
    return value


def prune_to(n: int, comparators: Iterable[Comparator]) -> list[Comparator]:
    """Drop every comparator that touches a wire ``>= n`` (pad-and-prune).

    A standard-form network on ``N >= n`` wires sorts ``n`` values when wires
    ``n..N-1`` carry ``+inf``: a standard comparator ``(i, j)`` sends the maximum
    to ``j > i``, so an infinity never leaves its wire and every comparator that
    touches one is a no-op. Removing those comparators leaves a sorter for ``n``.

    Examples
    --------
    >>> prune_to(3, [(0, 1), (2, 3), (0, 2), (1, 3), (1, 2)])
    [(0, 1), (0, 2), (1, 2)]
    """
    return [(i, j) for i, j in comparators if j < n]


def next_power_of_two(n: int) -> int:
    """Smallest power of two ``>= n`` (``1`` for ``n == 1``).

    Examples
    --------
    >>> [next_power_of_two(n) for n in (1, 2, 3, 5, 16, 17)]
    [1, 2, 4, 8, 16, 32]
    """
    return 1 << (n - 1).bit_length()


def finish(
    family: str,
    n: int,
    comparators: Iterable[Comparator],
    *,
    descending: bool = False,
    name: str | None = None,
    **metadata: Any,
) -> Network:
    """Wrap comparators in a :class:`Network` labelled with its family and size."""
    return Network.from_comparators(
        n,
        comparators,
        name=name or f"{family}-{n}",
        descending=descending,
        family=family,
        **metadata,
    )

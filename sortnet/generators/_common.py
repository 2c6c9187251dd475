"""Argument checks and finishing steps shared by the family builders."""

from __future__ import annotations

import operator
from collections.abc import Iterable
from typing import Any

from sortnet.errors import SortnetError
from sortnet.network import Comparator, Network
from sortnet.validate import MAX_COMPARATORS, MAX_WIRES


def check_n(n: object) -> int:
    """Return ``n`` as an int if it is an integer in ``1..MAX_WIRES``, else raise.

    numpy integers are accepted (they have ``__index__``); floats and bools are not.

    Examples
    --------
    >>> check_n(4)
    4
    >>> check_n(0)
    Traceback (most recent call last):
    ...
    sortnet.errors.SortnetError: n must be an integer >= 1, got 0
    >>> check_n(10**9)
    Traceback (most recent call last):
    ...
    sortnet.errors.SortnetError: n=1000000000 is more than sortnet's limit of 65536 wires
    """
    # bool is an int subclass; True as a wire count is always a mistake.
    if isinstance(n, bool) or not hasattr(n, "__index__") or operator.index(n) < 1:
        raise SortnetError(f"n must be an integer >= 1, got {n!r}")
    n = operator.index(n)
    if n > MAX_WIRES:
        raise SortnetError(f"n={n} is more than sortnet's limit of {MAX_WIRES} wires")
    return n


def check_size(family: str, n: int, size: int) -> None:
    """Refuse, before building it, a network of more than ``MAX_COMPARATORS`` comparators.

    ``size`` is the family's closed-form size (or an upper bound) at ``n``.

    Examples
    --------
    >>> check_size("bubble", 2000, 2000 * 1999 // 2)
    Traceback (most recent call last):
    ...
    sortnet.errors.SortnetError: bubble on n=2000 wires needs up to 1999000 comparators, more than sortnet's limit of 1048576
    """  # noqa: E501
    if size > MAX_COMPARATORS:
        raise SortnetError(
            f"{family} on n={n} wires needs up to {size} comparators, "
            f"more than sortnet's limit of {MAX_COMPARATORS}"
        )


def batcher_size_bound(n: int) -> int:
    """Comparators of the bitonic sorter on ``next_power_of_two(n)`` wires.

    An upper bound for the bitonic, odd-even merge and pairwise networks on ``n``
    wires (they are pruned from that power of two, and merge and pairwise are smaller).

    Examples
    --------
    >>> batcher_size_bound(16), batcher_size_bound(9)
    (80, 80)
    """
    size = next_power_of_two(n)
    log = size.bit_length() - 1
    return size * log * (log + 1) // 4


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

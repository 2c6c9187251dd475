"""Parallel scheduling of comparator sequences (the ``layers()`` pass)."""

from __future__ import annotations

from collections.abc import Sequence

Comparator = tuple[int, int]


def asap_layer_indices(n: int, comparators: Sequence[Comparator]) -> list[int]:
    """Layer (0-based) of each comparator when scheduled as soon as possible.

    A comparator runs one layer after the latest comparator that touched either
    of its wires, so comparators on disjoint wires share a layer.

    Examples
    --------
    >>> asap_layer_indices(4, [(0, 1), (2, 3), (1, 2), (0, 1)])
    [0, 0, 1, 2]
    """
    ready = [0] * n  # first layer in which each wire is free
    indices = []
    for i, j in comparators:
        layer = max(ready[i], ready[j])
        indices.append(layer)
        ready[i] = ready[j] = layer + 1
    return indices


def asap_layers(n: int, comparators: Sequence[Comparator]) -> list[list[Comparator]]:
    """Group comparators into parallel layers, as soon as possible.

    Within a layer comparators keep their original relative order.

    Examples
    --------
    >>> asap_layers(4, [(0, 1), (2, 3), (1, 2), (0, 1)])
    [[(0, 1), (2, 3)], [(1, 2)], [(0, 1)]]
    """
    indices = asap_layer_indices(n, comparators)
    layers: list[list[Comparator]] = [[] for _ in range(max(indices, default=-1) + 1)]
    for layer, comparator in zip(indices, comparators, strict=True):
        layers[layer].append(comparator)
    return layers

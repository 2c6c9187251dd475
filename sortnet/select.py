"""The selection pass: prune a network to the comparators that can affect output k.

A comparator matters for an output exactly when it lies in the output's backward
cone: walking the comparators from last to first, keep one that touches a wire the
output still depends on, and from then on depend on both its wires.
"""

from __future__ import annotations

from sortnet import nodes
from sortnet.errors import InputError, SortnetError
from sortnet.network import Network, comparator_graph

#: A rank: an int (1-based) or "median", "min", "max" (checked at run time).
KSpec = int | str


def resolve_k(net: Network, k: KSpec) -> int:
    """The 1-based rank meant by ``k`` on ``net``'s outputs; see :func:`resolve_rank`.

    Examples
    --------
    >>> net = Network.from_comparators(5, [])
    >>> resolve_k(net, "median"), resolve_k(net, "min"), resolve_k(net, "max"), resolve_k(net, 2)
    (3, 1, 5, 2)
    >>> resolve_k(net, 6)
    Traceback (most recent call last):
    ...
    sortnet.errors.InputError: k must be in 1..n=5, got 6
    """
    return resolve_rank(k, net.n)


def resolve_rank(k: KSpec, n: int) -> int:
    """The 1-based rank meant by ``k`` among ``n`` values: the one rule for every k.

    An int (numpy integers too) in ``1..n``, or ``"median"`` (lower, ``(n + 1) // 2``),
    ``"min"`` or ``"max"``. Strings of digits are refused: parsing text is the CLI's
    job (``--k``), so the API has one rule for comparator and counting networks alike.

    Examples
    --------
    >>> resolve_rank("median", 4), resolve_rank("max", 4), resolve_rank(2, 4)
    (2, 4, 2)
    >>> resolve_rank("3", 4)
    Traceback (most recent call last):
    ...
    sortnet.errors.InputError: k must be an integer in 1..n=4 or median, min, max; got '3'
    """
    named = {"median": (n + 1) // 2, "min": 1, "max": n}
    if isinstance(k, str) and k.lower() in named:
        return named[k.lower()]
    # numpy integers are fine (they have __index__); floats, bools, other strings are not.
    if isinstance(k, (str, bool)) or not hasattr(k, "__index__"):
        raise InputError(f"k must be an integer in 1..n={n} or median, min, max; got {k!r}")
    k = int(k)
    if not 1 <= k <= n:
        raise InputError(f"k must be in 1..n={n}, got {k}")
    return k


def rank_position(net: Network, position: int) -> int:
    """0-based rank of the value output ``position`` should hold (reversed when descending)."""
    return net.n - 1 - position if net.descending else position


def select(net: Network, k: KSpec) -> Network:
    """Prune ``net`` to the comparators that can affect its k-th smallest output.

    Parameters
    ----------
    net : Network
        A comparator network; its output holding the k-th smallest is kept (position
        ``k-1``, or ``n-k`` for a descending network).
    k : int or {"median", "min", "max"}
        1-based rank; ``"median"`` is the lower median ``(n+1)//2``.

    Returns
    -------
    Network
        A selection network with one output, on the same ``n`` wires, whose
        graph carries ``k``, ``family`` and ``full_size`` (the size before pruning).
        Whether it really selects is :func:`sortnet.verify`'s job.

    Examples
    --------
    >>> net = Network.from_comparators(
    ...     4, [(0, 1), (2, 3), (0, 2), (1, 3), (1, 2)], family="odd-even-merge"
    ... )
    >>> low = select(net, "min")
    >>> low
    <Network 'odd-even-merge select k=1' kind=comparator n=4 size=3 depth=2, outputs=[0]>
    >>> f"{low.size} of {net.size} comparators"
    '3 of 5 comparators'
    >>> low.comparators
    [(0, 1), (2, 3), (0, 2)]
    >>> select(net, 9)
    Traceback (most recent call last):
    ...
    sortnet.errors.InputError: k must be in 1..n=4, got 9
    """
    if not isinstance(net, Network) or net.kind != nodes.COMPARATOR_KIND:
        raise SortnetError("select needs a comparator network")
    k = resolve_k(net, k)
    n = net.n
    position = n - k if net.descending else k - 1
    if position not in net.outputs:
        have = ", ".join(str(rank_position(net, p) + 1) for p in net.outputs)
        raise InputError(f"network has no output for k={k} (its outputs hold k={have})")
    wire = net.outputs[position]
    needed = 1 << wire
    kept = []
    for i, j in reversed(net.comparators):
        if (needed >> i) & 1 or (needed >> j) & 1:
            kept.append((i, j))
            needed |= (1 << i) | (1 << j)
    kept.reverse()
    family = net.graph.graph.get("family")
    base = net.name or family or f"network n={n}"
    metadata = {"k": k, "family": family, "full_size": net.size}
    name = f"{base} select k={k}"
    pruned = Network.from_comparators(
        n, kept, name=name, descending=net.descending, outputs=[position], **metadata
    )
    if pruned.outputs[position] == wire:
        return pruned
    # Outputs permuted by an earlier standardisation: keep the wire the original reads.
    graph = comparator_graph(n, kept, {position: wire})
    graph.graph.update(metadata, name=name, descending=net.descending)
    return Network(graph)

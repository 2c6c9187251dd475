"""Best-known sorting networks for ``n <= 64``, smallest or shallowest (SorterHunter data)."""

from __future__ import annotations

from sortnet.errors import SortnetError
from sortnet.generators import library
from sortnet.generators._common import check_flag, check_n, finish
from sortnet.network import Network

#: Largest n for which ``best`` has a packaged network.
MAX_BEST_N = max(library.available("sorter"))

OPTIMIZE_CHOICES = library.OPTIMIZE_CHOICES


def best(n: int, *, optimize: str = "size", descending: bool = False) -> Network:
    """The best-known sorting network on ``n <= 64`` wires.

    Parameters
    ----------
    n : int
        Number of wires, ``1 <= n <= 64``. For larger ``n`` use ``odd-even-merge``
        or ``bitonic``.
    optimize : {"size", "depth"}, optional
        ``"size"`` (default) gives the network with the fewest comparators known
        (ties: fewest layers); ``"depth"`` the one with the fewest layers known
        (ties: fewest comparators). Where one network is best at both, both give it.
    descending : bool, optional
        Output the values in descending order instead (default ascending).

    Returns
    -------
    Network
        A sorting network with ``graph["family"] == "best"``, ``graph["optimize"]``
        and ``graph["source"]`` (the SorterHunter file, e.g.
        ``"Sort_32_185_14 (SorterHunter)"``); named ``best-<n>``, or
        ``best-<n>-depth`` for a depth-optimized network that differs from the
        size-optimized one.

    Raises
    ------
    SortnetError
        If ``n`` is not an integer in ``1..64``, ``optimize`` is not ``"size"``
        or ``"depth"``, or ``descending`` is not a bool.

    Notes
    -----
    Sizes for ``n = 1..16`` (``optimize="size"``): 0, 1, 3, 5, 9, 12, 16, 19, 25,
    29, 35, 39, 45, 51, 56, 60, with depths 0, 1, 3, 3, 5, 5, 6, 6, 7, 8, 8, 9,
    10, 10, 10, 10; ``n = 32`` has 185 comparators in 14 layers and ``n = 64`` 521
    in 21 (``optimize="depth"``: 525 in 20). With ``optimize="depth"``, ``n = 10``
    has 31 comparators in 7 layers, ``n = 12`` 40 in 8, ``n = 13`` 46 in 9,
    ``n = 14`` 52 in 9, ``n = 15`` 57 in 9 and ``n = 16`` 61 in 9. The sizes are
    proved optimal for ``n <= 12`` [3]_ [4]_ and the depths for ``n <= 16`` [5]_.
    The networks are the best known in SorterHunter's catalogue [2]_, packaged as
    data in ``sortnet/generators/data/sorters.json`` (MIT licence, with the
    licence text beside it; see :mod:`sortnet.generators.library`). Up to
    ``n = 16`` they are the classical networks (M. W. Green's 60-comparator
    16-input network; the 9- to 16-input records tabulated by Knuth [1]_). Every
    one is proved by the 0-1 principle in the tests.

    References
    ----------
    .. [1] D. E. Knuth, *The Art of Computer Programming*, vol. 3, 2nd ed.,
       section 5.3.4 (networks of Green, Shapiro, Van Voorhis, Waksman and others).
    .. [2] B. Dobbelaere, "Smallest and fastest sorting networks for a given
       number of inputs", https://bertdobbelaere.github.io/sorting_networks.html;
       SorterHunter, https://github.com/bertdobbelaere/SorterHunter (MIT licence).
    .. [3] M. Codish, L. Cruz-Filipe, M. Frank, P. Schneider-Kamp, "Sorting nine
       inputs requires twenty-five comparisons", J. Comput. Syst. Sci. 82 (2016).
    .. [4] J. Harder, "An answer to the Bose-Nelson sorting problem for 11 and 12
       channels", arXiv:1911.04319 (2019).
    .. [5] D. Bundala, J. Závodný, "Optimal sorting networks", J. Discrete
       Algorithms 26 (2014), 75-89.

    Examples
    --------
    >>> net = best(16)
    >>> net.name, net.size, net.depth
    ('best-16', 60, 10)
    >>> fast = best(16, optimize="depth")
    >>> fast.name, fast.size, fast.depth
    ('best-16-depth', 61, 9)
    >>> big = best(48, optimize="depth")
    >>> big.size, big.depth, big.graph.graph["source"]
    (347, 18, 'Sort_48_347_18 (SorterHunter)')
    >>> best(4).layers()
    [[(0, 2), (1, 3)], [(0, 1), (2, 3)], [(1, 2)]]
    >>> best(65)
    Traceback (most recent call last):
    ...
    sortnet.errors.SortnetError: no best-known network for n=65 in sortnet (only n <= 64); use 'odd-even-merge' or 'bitonic' for larger n
    """  # noqa: E501
    n = check_n(n)
    descending = check_flag(descending, "descending")
    if optimize not in OPTIMIZE_CHOICES:
        raise SortnetError(f"option 'optimize' must be 'size' or 'depth', got {optimize!r}")
    if n > MAX_BEST_N:
        raise SortnetError(
            f"no best-known network for n={n} in sortnet (only n <= {MAX_BEST_N}); "
            "use 'odd-even-merge' or 'bitonic' for larger n"
        )
    if n == 1:
        return finish("best", 1, [], descending=descending, optimize=optimize, source="trivial")
    chosen = library.lookup("sorter", n, optimize)
    smallest = library.lookup("sorter", n, "size")
    assert chosen is not None and smallest is not None  # every 2 <= n <= MAX_BEST_N
    name = f"best-{n}" if chosen == smallest else f"best-{n}-depth"
    return finish(
        "best",
        n,
        chosen.comparators,
        descending=descending,
        name=name,
        optimize=optimize,
        source=f"{chosen.source} (SorterHunter)",
    )

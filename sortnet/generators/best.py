"""Best-known sorting networks for ``n <= 16``, smallest or shallowest."""

from __future__ import annotations

from sortnet.errors import SortnetError
from sortnet.generators._best_data import DEPTH_OPTIMAL, SIZE_OPTIMAL
from sortnet.generators._common import check_flag, check_n, finish
from sortnet.network import Network

#: Largest n for which ``best`` has a network written in the repository.
MAX_BEST_N = max(SIZE_OPTIMAL)

OPTIMIZE_CHOICES = ("size", "depth")


def best(n: int, *, optimize: str = "size", descending: bool = False) -> Network:
    """The best-known sorting network on ``n <= 16`` wires.

    Parameters
    ----------
    n : int
        Number of wires, ``1 <= n <= 16``. For larger ``n`` load a SorterHunter
        file with :func:`sortnet.load_network`.
    optimize : {"size", "depth"}, optional
        ``"size"`` (default) gives the network with the fewest comparators known;
        ``"depth"`` the one with the fewest layers, which for ``n`` in 10, 12-16
        costs extra comparators (elsewhere both are the same network).
    descending : bool, optional
        Output the values in descending order instead (default ascending).

    Returns
    -------
    Network
        A sorting network with ``graph["family"] == "best"`` and
        ``graph["optimize"]`` set; named ``best-<n>`` (``best-<n>-depth`` for a
        depth-optimal network that differs from the size-optimal one).

    Raises
    ------
    SortnetError
        If ``n`` is not an integer in ``1..16``, ``optimize`` is not ``"size"``
        or ``"depth"``, or ``descending`` is not a bool.

    Notes
    -----
    Sizes for ``n = 1..16`` (``optimize="size"``): 0, 1, 3, 5, 9, 12, 16, 19, 25,
    29, 35, 39, 45, 51, 56, 60, with depths 0, 1, 3, 3, 5, 5, 6, 6, 7, 8, 8, 9,
    10, 10, 10, 10. With ``optimize="depth"``: ``n = 10`` has 31 comparators in 7
    layers, ``n = 12`` 40 in 8, ``n = 13`` 46 in 9, ``n = 14`` 52 in 9,
    ``n = 15`` 57 in 9 and ``n = 16`` 61 in 9. The sizes are proved optimal for
    ``n <= 12`` [3]_ [4]_ and the depths for ``n <= 16`` [5]_. The comparator
    lists are written out in :mod:`sortnet.generators._best_data`, one layer per
    line, in the layout of Dobbelaere's catalogue [2]_ (the 16-input 60-comparator
    network is M. W. Green's, the 9- to 16-input size records are those tabulated
    by Knuth [1]_); each is checked exhaustively by the 0-1 principle in the tests.

    References
    ----------
    .. [1] D. E. Knuth, *The Art of Computer Programming*, vol. 3, 2nd ed.,
       section 5.3.4 (networks of Green, Shapiro, Van Voorhis, Waksman and others).
    .. [2] B. Dobbelaere, "Smallest and fastest sorting networks for a given
       number of inputs", https://bertdobbelaere.github.io/sorting_networks.html
       (SorterHunter, MIT licence).
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
    >>> best(4).layers()
    [[(0, 2), (1, 3)], [(0, 1), (2, 3)], [(1, 2)]]
    """
    n = check_n(n)
    descending = check_flag(descending, "descending")
    if optimize not in OPTIMIZE_CHOICES:
        raise SortnetError(f"option 'optimize' must be 'size' or 'depth', got {optimize!r}")
    if n > MAX_BEST_N:
        raise SortnetError(
            f"no best-known network for n={n} in sortnet (only n <= {MAX_BEST_N}); "
            f"use sortnet.load_network('Sort_{n}_<L>_<D>.json') with a SorterHunter file"
        )
    name = f"best-{n}"
    layers = SIZE_OPTIMAL[n]
    if optimize == "depth" and n in DEPTH_OPTIMAL:
        layers = DEPTH_OPTIMAL[n]
        name = f"best-{n}-depth"
    comparators = [pair for layer in layers for pair in layer]
    return finish("best", n, comparators, descending=descending, name=name, optimize=optimize)

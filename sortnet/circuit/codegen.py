"""Generate the Python source of straight-line kernels for a comparator network.

:func:`kernel_source` is what :mod:`sortnet.circuit.kernels` writes to its cache directory
and numba compiles; it is plain text, so it can be read, diffed and tested without
numba. Three layouts, chosen by :func:`layout_for` from measurements (1M rows,
best networks, same run, load 0.7-0.8; float32 ms for tiles / rows / columns / the C
kernel: n = 4 3.1 / 0.7 / 1.1 / 0.7, n = 12 4.7 / 4.9 / 4.5 / 3.7, n = 16 2.6 / 7.3 /
6.7 / 7.6, n = 32 12.1 / 22.5 / 15.7 / 14.4, n = 64 28.9 / 65.9 / 39.4 / 42.9; float64,
tiles / rows / C: n = 16 8.5 / 7.0 / 8.8, n = 32 26.4 / 21.5 / 22.8, n = 64 65.4 / 66.8
/ 54.5):

* ``tiles`` (4-byte values, 16 <= n <= 64, n a multiple of 4, all outputs kept): blocks
  of ``L`` rows (``L`` = 16, smaller when ``n`` needs it) are transposed with vector
  shuffles into an ``(n, L)`` buffer, every comparator is then one packed
  compare-and-select over ``L`` rows, and the block is shuffled back. Leftover rows
  (fewer than ``L``) take the ``rows`` code.
* ``rows`` (n <= 10; 8-byte values up to n = 32): each row's values live in registers;
  one scalar compare and two selects per comparator.
* ``columns`` (the rest): like ``tiles`` with a plain-loop transpose over 64-row blocks.

Either way the network itself is one intrinsic
(:func:`sortnet.circuit.intrinsics.network_intrinsic`) emitting LLVM IR directly: a
kernel compiles in 0.3 to 4.5 s for any network with n <= 64 (bubble sort's 2016
comparators included), where a Python line per comparator took 1.2 to 650 s.
"""

from __future__ import annotations

from sortnet._jit import tile_lanes
from sortnet.errors import SortnetError
from sortnet.network import Network

#: The ``tiles`` layout covers 4-byte values for n in this range (when ``n`` allows it).
TILES_MIN_N = 16
TILES_MAX_N = 64
#: Up to this many wires (8-byte values: :data:`ROWS_MAX_N_WIDE`) ``rows``, above ``columns``.
ROWS_MAX_N = 10
ROWS_MAX_N_WIDE = 32
LAYOUTS = ("tiles", "rows", "columns")
#: Rows per transposed block in the ``columns`` layout (a 64 x 64 float32 block is 16 KB).
BLOCK_ROWS = 64
#: Bump when the generated code or :mod:`sortnet.circuit.intrinsics` changes: it is part of
#: the source, hence of the file name, so stale machine code on disk is never reused.
CODEGEN_VERSION = 5


def layout_for(net: Network, itemsize: int = 4, kind: str = "sort") -> str:
    """The layout a kernel of ``net`` uses for values of ``itemsize`` bytes.

    Examples
    --------
    >>> from sortnet.generators import network
    >>> [layout_for(network("bitonic", n)) for n in (5, 8, 32, 64)]
    ['rows', 'rows', 'tiles', 'tiles']
    >>> layout_for(network("bitonic", 64), 8), layout_for(network("bubble", 12))
    ('columns', 'columns')
    """
    if kind == "argsort":
        return "rows"
    if (
        itemsize == 4
        and TILES_MIN_N <= net.n <= TILES_MAX_N
        and tile_lanes(net.n, itemsize) >= 4
        and len(net.output_wires) == net.n
    ):
        return "tiles"
    rows_max = ROWS_MAX_N_WIDE if itemsize >= 8 else ROWS_MAX_N
    return "rows" if net.n <= rows_max else "columns"


def kernel_source(
    net: Network, kind: str = "sort", layout: str | None = None, itemsize: int = 4
) -> str:
    """The Python source of the kernel for ``net`` (what numba compiles).

    The module defines ``kernel(X, Y)``, serial and releasing the GIL (the caller
    splits rows over threads: numba's ``parallel=True`` compilation took 3 to 13 times
    as long as the kernel's own). ``Y`` receives ``len(net.outputs)`` columns: the
    sorted values for ``kind="sort"``, the source column of each output (stable) for
    ``kind="argsort"``. The network itself is one intrinsic per access direction
    (:func:`sortnet.circuit.intrinsics.network_intrinsic`), built from the comparator
    list written into the module.

    Parameters
    ----------
    net : Network
        A comparator network.
    kind : {"sort", "argsort"}
    layout : {"tiles", "rows", "columns"}, optional
        Default :func:`layout_for` ``(net, itemsize)``; argsort always uses ``rows``.
    itemsize : int
        Bytes per value (the ``tiles`` layout depends on it).

    Examples
    --------
    >>> net = Network.from_comparators(2, [(0, 1)])
    >>> print(kernel_source(net, layout="rows").split("\\n\\n\\n")[1])
    COMPARATORS = ((0, 1),)
    OUTPUTS = (0, 1)
    on_row = network_intrinsic(COMPARATORS, OUTPUTS, "sort")
    on_column = network_intrinsic(COMPARATORS, OUTPUTS, "sort", transposed=True)
    >>> print(kernel_source(net, layout="rows").split("\\n\\n\\n")[2].rstrip())
    @njit(cache=True, boundscheck=False, nogil=True)
    def kernel(X, Y):
        for r in range(X.shape[0]):
            on_row(X, r, Y, r)
    """
    _check_network(net)
    if kind not in ("sort", "argsort"):
        raise SortnetError(f"unknown kernel kind {kind!r}; choose sort or argsort")
    layout = "rows" if kind == "argsort" else (layout or layout_for(net, itemsize))
    if layout not in LAYOUTS:
        raise SortnetError(f"unknown kernel layout {layout!r}; choose tiles, rows or columns")
    lanes = tile_lanes(net.n, itemsize)
    if layout == "tiles" and (lanes < 2 or itemsize not in (4, 8) or len(net.outputs) != net.n):
        raise SortnetError(
            f"the tiles layout needs all outputs, 4- or 8-byte values and an even n "
            f"(n={net.n}, {itemsize}-byte values, {len(net.outputs)} outputs)"
        )
    header = (
        f"# Generated by sortnet.circuit.kernels: {kind} kernel, {layout} layout, n={net.n}, "
        f"{net.size} comparators, outputs {net.output_wires}, codegen {CODEGEN_VERSION}"
        + (f", {lanes}-row tiles. " if layout == "tiles" else ". ")
        + "Do not edit.\n"
        "import numpy as np\n"
        "from numba import njit\n\n"
        "from sortnet.circuit.intrinsics import network_intrinsic, transpose_tile"
    )
    comparators = tuple((int(i), int(j)) for i, j in net.comparators)
    network = "\n".join(
        [
            f"COMPARATORS = {comparators!r}",
            f"OUTPUTS = {tuple(int(w) for w in net.output_wires)!r}",
            f'on_row = network_intrinsic(COMPARATORS, OUTPUTS, "{kind}")',
            f'on_column = network_intrinsic(COMPARATORS, OUTPUTS, "{kind}", transposed=True)',
        ]
    )
    if layout == "tiles":
        body = _tiles_body(net, lanes)
    else:
        body = _columns_body(net) if layout == "columns" else _ROWS_BODY
    decorator = "@njit(cache=True, boundscheck=False, nogil=True)"
    kernel = "\n".join([decorator, "def kernel(X, Y):", *body])
    return "\n\n\n".join([header, network, kernel]) + "\n"


# Each row's values are loaded, run through the network in registers and stored.
_ROWS_BODY = ["    for r in range(X.shape[0]):", "        on_row(X, r, Y, r)"]


def _tiles_body(net: Network, lanes: int) -> list[str]:
    n = net.n
    lines = [
        f"    full = X.shape[0] // {lanes}",
        "    for block in range(full):",
        f"        r0 = block * {lanes}",
        f"        T = np.empty(({n}, {lanes}), X.dtype)",
    ]
    # T[c + j, i] = X[r0 + i, c + j]: one lanes x lanes tile per group of columns.
    lines += [f"        transpose_tile(X, r0, {c}, T, {c}, 0, {lanes})" for c in range(0, n, lanes)]
    # One packed compare-and-select per comparator over the tile's rows (LLVM vectorises
    # the loop: its trip count is the vector width).
    lines += [f"        for r in range({lanes}):", "            on_column(T, r, T, r)"]
    lines += [f"        transpose_tile(T, {c}, 0, Y, r0, {c}, {lanes})" for c in range(0, n, lanes)]
    # The last X.shape[0] % lanes rows, one at a time.
    lines += [f"    for r in range(full * {lanes}, X.shape[0]):", "        on_row(X, r, Y, r)"]
    return lines


def _columns_body(net: Network) -> list[str]:
    rows = BLOCK_ROWS
    return [
        f"    for block in range((X.shape[0] + {rows - 1}) // {rows}):",
        f"        r0 = block * {rows}",
        f"        m = min({rows}, X.shape[0] - r0)",
        # A private (n, rows) buffer per block: each comparator is then a packed
        # compare-and-select over contiguous memory, which LLVM vectorises.
        f"        T = np.empty(({net.n}, {rows}), X.dtype)",
        f"        for w in range({net.n}):",
        "            for r in range(m):",
        "                T[w, r] = X[r0 + r, w]",
        "        for r in range(m):",
        "            on_column(T, r, T, r)",
        f"        for p in range({len(net.output_wires)}):",
        "            for r in range(m):",
        "                Y[r0 + r, p] = T[p, r]",
    ]


def _check_network(net: Network) -> None:
    if not isinstance(net, Network) or net.kind != "comparator":
        raise SortnetError("compiled kernels run comparator networks only")

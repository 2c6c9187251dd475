"""The source of the rank-filter kernels, and the networks they run.

A window of ``h x w`` values is ``w`` columns of ``h``. Two kernel forms:

* ``direct``: each output pixel loads its ``h * w`` values and runs the smallest known
  selection network on them (:func:`sortnet.selection_network`; 85 compare-exchanges
  for the 5x5 median);
* ``shared``: for each output row, every column of ``h`` values is sorted once (a
  best-known sorting network) into a buffer, and shared by the ``w`` windows that
  contain it; each output pixel then runs :func:`merge_network`, a selection network
  that knows its ``w`` inputs columns are sorted.

The loops over the pixels of a row hold straight-line code only, so LLVM vectorises
them (one packed min/max per comparator over 8 or 16 pixels).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from sortnet.generators import network
from sortnet.generators.selection import selection_network
from sortnet.network import Comparator
from sortnet.select import select

#: Bump when the generated code changes (it is part of the source, hence the cache key).
FILTER_CODEGEN_VERSION = 3
#: ``merge_network`` checks networks over every sorted-column 0-1 input up to this many.
MAX_PATTERNS = 1 << 22


@functools.lru_cache(maxsize=64)
def column_sorter(height: int) -> tuple[Comparator, ...]:
    """The comparators of the smallest known sorter of ``height`` values.

    Examples
    --------
    >>> len(column_sorter(3)), len(column_sorter(5)), len(column_sorter(7))
    (3, 9, 16)
    """
    return tuple(network("best", height).comparators) if height > 1 else ()


@functools.lru_cache(maxsize=64)
def merge_network(height: int, width: int, position: int) -> tuple[tuple[Comparator, ...], int]:
    """A selection network for rank ``position`` of ``width`` sorted columns of ``height``.

    Input wire ``c * height + t`` holds the ``t``-th smallest of column ``c``. The
    network sorts each row of that matrix (level ``t`` across the columns), after
    which rows and columns are both sorted, so value ``(t, c)`` is known to be above
    ``(t + 1)(c + 1) - 1`` others and below ``(h - t)(w - c) - 1``: those that cannot
    hold rank ``position`` are dropped, a selection network picks the rank among the
    rest, and the whole is pruned to the cone of the output. Where every sorted-column
    0-1 input can be enumerated (at most :data:`MAX_PATTERNS`), comparators that swap
    on none of them are removed too (by the 0-1 principle they never swap).

    Returns
    -------
    (comparators, wire)
        On ``height * width`` wires; the answer is on ``wire``.

    Examples
    --------
    >>> comparators, wire = merge_network(3, 3, 4)  # max of lows, median of middles, ...
    >>> len(comparators)
    10
    """
    n = height * width
    kept = []
    below = 0
    for t in range(height):
        for c in range(width):
            known_below = (t + 1) * (c + 1) - 1
            known_above = (height - t) * (width - c) - 1
            if known_below > position:
                continue  # rank > position: above the answer
            if known_above > n - 1 - position:
                below += 1  # rank < position: below the answer
                continue
            kept.append(c * height + t)
    inner = selection_network(len(kept), position - below + 1)
    comparators = _row_sorts(height, width, kept) + [
        (kept[i], kept[j]) for i, j in inner.comparators
    ]
    wire = kept[inner.output_wires[0]]
    comparators = _prune(n, comparators, wire)
    comparators = _drop_idle(height, width, comparators)
    return tuple(_prune(n, comparators, wire)), wire


def _row_sorts(height: int, width: int, kept: Sequence[int]) -> list[Comparator]:
    """Sort each level across the columns; a level with one kept value only selects it."""
    comparators = []
    for t in range(height):
        columns = [w // height for w in kept if w % height == t]
        if len(columns) == 1:  # a selection network for that one rank is smaller
            row = selection_network(width, columns[0] + 1).comparators
        else:
            row = list(column_sorter(width))
        comparators += [(i * height + t, j * height + t) for i, j in row]
    return comparators


def _prune(n: int, comparators: Sequence[Comparator], wire: int) -> list[Comparator]:
    """The comparators in the backward cone of ``wire``."""
    needed = {wire}
    kept = []
    for i, j in reversed(comparators):
        if i in needed or j in needed:
            needed |= {i, j}
            kept.append((i, j))
    return kept[::-1]


def _drop_idle(height: int, width: int, comparators: Sequence[Comparator]) -> list[Comparator]:
    """Remove comparators that never swap on a sorted-column 0-1 input (when enumerable)."""
    if (height + 1) ** width > MAX_PATTERNS:
        return list(comparators)
    # Every 0-1 input with sorted columns: column c holds zeros[c] zeros, then ones.
    grids = np.indices((height + 1,) * width).reshape(width, -1)
    wires = [grids[c] <= t for c in range(width) for t in range(height)]  # True = 1
    kept = []
    for i, j in comparators:
        swap = wires[i] & ~wires[j]
        if swap.any():
            kept.append((i, j))
            wires[i], wires[j] = wires[i] & wires[j], wires[i] | wires[j]
    return kept


def source_wires(height: int, width: int, wires: Sequence[int]) -> list[tuple[int, int]]:
    """``(level, column)`` in the sorted-column buffer of each input wire."""
    return [(w % height, w // height) for w in wires]


#: The module's row loader: one row of the image, extended by the column map, into ``out``.
_LOAD_ROW = """
@njit(cache=True, boundscheck=False, nogil=True)
def load_row(X, r, cols, fill, half, width, out):
    if r < 0:
        for j in range(out.shape[0]):
            out[j] = fill
        return
    for j in range(half):
        c = cols[j]
        out[j] = X[r, c] if c >= 0 else fill
    for j in range(width):
        out[half + j] = X[r, j]
    for j in range(half + width, out.shape[0]):
        c = cols[j]
        out[j] = X[r, c] if c >= 0 else fill
"""


def kernel_source(height: int, width: int, position: int, form: str = "shared") -> tuple[str, int]:
    """The Python source of ``kernel(X, rows, cols, F, Y)`` and its comparator count per pixel.

    ``X`` is the image (C-contiguous, ``W`` columns), ``rows`` and ``cols`` the index
    maps of the extended image (``len(Y) + height - 1`` and ``W + width - 1`` entries,
    ``-1`` for ``F[0]``, the constant), ``Y`` the output. The kernel extends one image
    row at a time into a ring of ``height`` rows, so no extended copy of the image is
    made. The count is the per-pixel network (``shared``: without the column sorts,
    which cost ``len(column_sorter(height))`` per column per row).

    Examples
    --------
    >>> source, count = kernel_source(1, 3, 0, "direct")
    >>> count
    2
    """
    header = (
        f"# Generated by sortnet.circuit.filter_kernels: {form} rank filter, window "
        f"{height}x{width}, rank {position}, codegen {FILTER_CODEGEN_VERSION}. Do not edit.\n"
        "import numpy as np\n"
        "from numba import njit\n\n"
        "from sortnet.circuit.intrinsics import cmpx\n\n"
        + _LOAD_ROW
        + "\n\n@njit(cache=True, boundscheck=False, nogil=True)\n"
        "def kernel(X, rows, cols, F, Y):\n"
        "    nrows, ncols = Y.shape\n"
        "    wide = cols.shape[0]\n"
        "    half = (wide - ncols) // 2\n"
        "    fill = F[0]\n"
        f"    B = np.empty(({height}, wide), X.dtype)\n"
        f"    for r in range({height - 1}):\n"
        "        load_row(X, rows[r], cols, fill, half, ncols, B[r])\n"
    )
    ring = [
        f"        load_row(X, rows[i + {height - 1}], cols, fill, half, ncols, "
        f"B[(i + {height - 1}) % {height}])"
    ]
    ring += [f"        b{t} = B[(i + {t}) % {height}]" for t in range(height)]
    ind = " " * 12
    body: list[str] = []
    if form == "direct":
        comparators, wire = selection_network_of(height * width, position)
        body += ["    for i in range(nrows):", *ring, "        for j in range(ncols):"]
        used = sorted({w for c in comparators for w in c} | {wire})
        body += [f"{ind}v{w} = b{w // width}[j + {w % width}]" for w in used]
        lines, final = _exchanges(comparators, "v", ind)
        body += [*lines, f"{ind}Y[i, j] = {final.get(wire, f'v{wire}')}"]
        return header + "\n".join(body) + "\n", len(comparators)
    comparators, wire = merge_network(height, width, position)
    used = sorted({w for c in comparators for w in c} | {wire})
    levels = sorted({w % height for w in used})
    body += [
        f"    S = np.empty(({len(levels)}, wide), X.dtype)",
        "    for i in range(nrows):",
        *ring,
        "        for j in range(wide):",
    ]
    body += [f"{ind}c{t} = b{t}[j]" for t in range(height)]
    lines, column = _exchanges(column_sorter(height), "c", ind)
    body += lines
    body += [f"{ind}S[{slot}, j] = {column.get(t, f'c{t}')}" for slot, t in enumerate(levels)]
    body += ["        for j in range(ncols):"]
    slot_of = {t: slot for slot, t in enumerate(levels)}
    body += [f"{ind}v{w} = S[{slot_of[w % height]}, j + {w // height}]" for w in used]
    lines, final = _exchanges(comparators, "v", ind)
    body += [*lines, f"{ind}Y[i, j] = {final.get(wire, f'v{wire}')}"]
    return header + "\n".join(body) + "\n", len(comparators)


def _exchanges(
    comparators: Sequence[Comparator], prefix: str, indent: str
) -> tuple[list[str], dict[int, str]]:
    """One ``cmpx`` line per comparator, each result in a variable of its own.

    No variable is assigned twice: numba rebuilds SSA form for one that is, scanning
    the whole block once per redefinition. Returns the lines and the final name of each
    wire a comparator touched (the others keep ``prefix`` + wire).

    Examples
    --------
    >>> _exchanges([(0, 1), (1, 2)], "v", "")
    (['vl0, vh0 = cmpx(v0, v1)', 'vl1, vh1 = cmpx(vh0, v2)'], {0: 'vl0', 1: 'vl1', 2: 'vh1'})
    """
    names: dict[int, str] = {}
    lines = []
    for c, (i, j) in enumerate(comparators):
        low, high = f"{prefix}l{c}", f"{prefix}h{c}"
        first, second = names.get(i, f"{prefix}{i}"), names.get(j, f"{prefix}{j}")
        lines.append(f"{indent}{low}, {high} = cmpx({first}, {second})")
        names[i], names[j] = low, high
    return lines, names


@functools.lru_cache(maxsize=64)
def selection_network_of(n: int, position: int) -> tuple[tuple[Comparator, ...], int]:
    """``(comparators, wire)`` of :func:`sortnet.selection_network` for 0-based rank ``position``.

    Examples
    --------
    >>> comparators, wire = selection_network_of(9, 4)
    >>> len(comparators), wire
    (19, 4)
    """
    net = select(selection_network(n, position + 1), position + 1)
    return tuple(net.comparators), net.output_wires[0]

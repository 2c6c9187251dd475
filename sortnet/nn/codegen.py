"""Source generation for the numba engine (:mod:`sortnet.nn.kernels`).

A compiled model becomes a small Python module: its layers as literals, built from
its **non-zero** weights only (:func:`layer_spec`), one intrinsic per arithmetic
(:func:`sortnet.nn.model_intrinsic.model_intrinsic`) that emits every unit of a row
as LLVM IR, and a kernel ``kernel(X, Y)`` that runs it over blocks of rows.

Arithmetic. Weights are taken in the run's dtype (``float(np.float32(w))``, exact as a
Python literal): float32 models compute in float32 like the numpy engine. Each unit
adds its products left to right in column order, then its bias; the zero terms left
out add exactly 0 (inputs are finite, see :mod:`sortnet.nn.executor`), and a residual
block sums its skip and output terms in one sum. Only the summation order may differ
from the numpy engine, which the exactness contract of
:class:`~sortnet.nn.model.CompiledModel` allows (the tests check both parts of it on
this engine). The exact refinements (relu pairs, fused multiply-adds where every
product is exact) are described in :mod:`sortnet.nn.model_intrinsic`.

Layout: rows go in blocks of :data:`BLOCK_ROWS`, transposed into a private 1-D buffer,
and the whole model is one loop over the block's rows. LLVM vectorises it, so each
unit becomes packed arithmetic over 16 float32 rows (AVX-512). Compiling takes about a
second at n = 32 (numba sees one call, not a statement per unit).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from sortnet._jit import tile_lanes
from sortnet.errors import SortnetError
from sortnet.nn.layer import csr

if TYPE_CHECKING:
    from sortnet.nn.model import CompiledModel

#: Rows per block: the vectorised row loop runs this often (a multiple of 16 lanes).
BLOCK_ROWS = 64
#: Bump when the generated code changes: it is hashed into the kernel's file name.
CODEGEN_VERSION = 4


def _weight(dtype: np.dtype, value: float) -> float:
    return float(dtype.type(value))  # the value the numpy engine multiplies by


def _terms(matrix: Any, row: int, dtype: np.dtype) -> tuple[tuple[int, float], ...]:
    """``(column, weight)`` of one row of a CSR matrix, in column order, zeros left out."""
    start, stop = matrix.indptr[row], matrix.indptr[row + 1]
    pairs = zip(matrix.indices[start:stop].tolist(), matrix.data[start:stop].tolist(), strict=True)
    return tuple((column, _weight(dtype, w)) for column, w in pairs if _weight(dtype, w) != 0)


def layer_spec(layer: Any, dtype: np.dtype) -> tuple[Any, Any]:
    """One layer as literals: its units ``(activation, bias, terms)`` and residual rows.

    Examples
    --------
    >>> import compilers, sortnet
    >>> model = compilers.compile(sortnet.Network.from_comparators(2, [(0, 1)]), "relu")
    >>> layer_spec(model.layers[0], np.dtype(np.float32))[0][:2]
    (('relu', 0.0, ((0, 0.5), (1, -0.5))), ('relu', 0.0, ((0, -0.5), (1, 0.5))))
    """
    weight = csr(layer.weight)
    units = tuple(
        (name, _weight(dtype, layer.bias[unit]), _terms(weight, unit, dtype))
        for unit, name in enumerate(layer.activations)
    )
    if layer.out_weight is None:
        return units, None
    skip, out = csr(layer.skip), csr(layer.out_weight)
    rows = tuple(
        (_terms(skip, row, dtype), _terms(out, row, dtype)) for row in range(layer.outputs)
    )
    return units, rows


def _move_block(by_element: list[str], by_tile: list[str], width: int, dtype: Any) -> list[str]:
    """Kernel lines moving one block of ``width`` columns between the batch and ``S``.

    A whole block whose width splits into square tiles of at least 4 lanes moves tile by
    tile (:func:`sortnet._tiles.transpose_tile`: vector loads, shuffles and stores;
    ``by_tile[c]`` is the call for the tile at column ``c``); otherwise, and for the
    last, partial block, element by element (``by_element``, one line per column).
    """
    ind = " " * 12
    elementwise = ["        for r in range(m):", *[ind + line for line in by_element]]
    lanes = tile_lanes(width, np.dtype(dtype).itemsize)
    if lanes < 4:
        return elementwise
    tiles = [by_tile[c].format(lanes=lanes) for c in range(0, width, lanes)]
    return [
        f"        if m == {BLOCK_ROWS}:",
        f"            for q in range(0, {BLOCK_ROWS}, {lanes}):",
        *["    " + ind + line for line in tiles],
        "        else:",
        *["    " + line for line in elementwise],
    ]


def kernel_source(model: CompiledModel, dtype: Any = np.float64) -> str:
    """The Python source numba compiles for ``model`` in ``dtype``.

    It defines ``kernel(X, Y)``, which fills ``Y`` (``(batch, n_outputs)``) from
    ``X`` (``(batch, n)``), both C-contiguous arrays of ``dtype``.

    Examples
    --------
    >>> import compilers, sortnet
    >>> model = compilers.compile(sortnet.Network.from_comparators(2, [(0, 1)]), "abs")
    >>> print(kernel_source(model, np.float32).split("\\n\\n\\n")[2].rstrip())
    @njit(cache=True, boundscheck=False, nogil=True)
    def kernel(X, Y):
        rows = X.shape[0]
        S = np.zeros(256, X.dtype)
        for r0 in range(0, rows, 64):
            m = min(64, rows - r0)
            for r in range(m):
                S[0 + r] = X[r0 + r, 0]
                S[64 + r] = X[r0 + r, 1]
            tiny = 0
            for i in range(128):
                a = abs(S[i])
                tiny |= (a < 2.350988701644575e-38) & (a != 0)
            if tiny:
                for r in range(64):
                    plain(S, r)
            else:
                for r in range(64):
                    fused(S, r)
            for r in range(m):
                Y[r0 + r, 0] = S[128 + r]
                Y[r0 + r, 1] = S[192 + r]
    """
    from sortnet.nn.exact_products import fused_threshold

    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise SortnetError(f"the numba engine runs float32 or float64, not {dtype}")
    n, rows, ind = model.n, BLOCK_ROWS, " " * 12
    outputs = model.n_outputs
    layers = tuple(layer_spec(layer, dtype) for layer in model.layers)
    threshold = fused_threshold(model, dtype)
    # One private 1-D buffer per call holds a block transposed: input wire w at
    # S[w * rows + r], output p at S[(n + p) * rows + r]. The row loop then reads and
    # writes contiguous rows, so LLVM vectorises it; constant offsets into one 1-D
    # array let it prove the reads and writes apart (two arrays, or run-time strides,
    # would need a second, scalar copy of the body for aliasing). The loop always runs
    # BLOCK_ROWS times (no remainder copy either): a partial block computes on zeros or
    # on a previous block's rows, already checked.
    run = [f"        for r in range({rows}):", f"{ind}plain(S, r)"]
    if threshold > 0:  # the fused copy only where every product is exact
        run = [
            "        tiny = 0",  # any non-zero input below the threshold (branch-free)
            f"        for i in range({n * rows}):",
            f"{ind}a = abs(S[i])",
            f"{ind}tiny |= (a < {threshold!r}) & (a != 0)",
            "        if tiny:",
            f"    {run[0]}",
            f"    {run[1]}",
            "        else:",
            f"            for r in range({rows}):",
            f"{ind}    fused(S, r)",
        ]
    body = [
        "    rows = X.shape[0]",
        f"    S = np.zeros({(n + outputs) * rows}, X.dtype)",
        f"    for r0 in range(0, rows, {rows}):",
        f"        m = min({rows}, rows - r0)",
        *_move_block(
            [f"S[{w * rows} + r] = X[r0 + r, {w}]" for w in range(n)],
            [f"transpose_tile(X, r0 + q, {c}, T, {c}, q, {{lanes}})" for c in range(n)],
            n,
            dtype,
        ),
        *run,
        *_move_block(
            [f"Y[r0 + r, {p}] = S[{(n + p) * rows} + r]" for p in range(outputs)],
            [f"transpose_tile(T, {n + c}, q, Y, r0 + q, {c}, {{lanes}})" for c in range(outputs)],
            outputs,
            dtype,
        ),
    ]
    if any("transpose_tile" in line for line in body):  # T: the same buffer, a wire per row
        body.insert(2, f"    T = S.reshape(({n + outputs}, {rows}))")
    header = (
        # Nothing from the metadata here: equal weights must give the same source.
        f"# Generated by sortnet.nn.codegen (codegen {CODEGEN_VERSION}): n={n} -> "
        f"{outputs}, {dtype.name}. Do not edit.\n"
        "import numpy as np\n"
        "from numba import njit\n\n"
        "from sortnet._tiles import transpose_tile\n"
        "from sortnet.nn.model_intrinsic import model_intrinsic"
    )
    model_lines = [
        f"LAYERS = {layers!r}",
        f"plain = model_intrinsic(LAYERS, {n}, {rows}, fused=False)",
    ]
    if threshold > 0:
        model_lines.append(f"fused = model_intrinsic(LAYERS, {n}, {rows}, fused=True)")
    kernel = "\n".join(
        ["@njit(cache=True, boundscheck=False, nogil=True)", "def kernel(X, Y):", *body]
    )
    return "\n\n\n".join([header, "\n".join(model_lines), kernel]) + "\n"

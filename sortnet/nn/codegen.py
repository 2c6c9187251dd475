"""Source generation for the numba engine (:mod:`sortnet.nn.kernels`).

A compiled model becomes Python source with one statement per unit, built from
its **non-zero** weights only::

    z3_5 = lin(h2_1, k0, h2_4, k1, z2_9, k2)    # z = W v + b: k0 * h2_1 + k1 * h2_4 + ...
    h3_5 = max(z3_5, k3)                         # the unit's activation (k3 = 0)

Arithmetic. Constants are typed in the run's dtype (``k0 = np.float32(0.5)``):
float32 models compute in float32 like the numpy engine (a bare ``0.5`` would
promote to float64). ``lin`` (:mod:`sortnet.nn.intrinsics`) multiplies and
adds left to right with no fused multiply-add, so each unit adds the same
products as the matrix product; the zero terms it leaves out add exactly 0
(inputs are finite, see :mod:`sortnet.nn.executor`), a bias is added last, and a
residual block sums its skip and output terms in one sum. Only the summation
order may differ, which the exactness contract of
:class:`~sortnet.nn.model.CompiledModel` allows (the tests check both parts of it
on this engine). Activations come from the registry
(:attr:`sortnet.nn.activations.Activation.scalar`), so every activation runs here,
including the step and indicator units of counting models.

Layout (measured against one loop per layer and against plain row-at-a-time
code): rows go in blocks of :data:`BLOCK_ROWS`, transposed into a private 1-D
buffer, and the whole model is one loop over the block's rows. LLVM vectorises
it, so each unit becomes a packed multiply-add over 16 float32 rows (AVX-512)
with every value in registers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse

from sortnet.errors import SortnetError
from sortnet.nn.activations import ACTIVATIONS
from sortnet.nn.layer import Matrix

if TYPE_CHECKING:
    from sortnet.nn.model import CompiledModel

#: Rows per block: the vectorised row loop runs this often (a multiple of 16 lanes).
BLOCK_ROWS = 64
#: Bump when the generated code changes: it is hashed into the kernel's file name.
CODEGEN_VERSION = 1


def csr(matrix: Matrix) -> Any:
    """``matrix`` as a CSR array with sorted column indices (terms in column order)."""
    csr = scipy.sparse.csr_array(matrix)
    csr.sort_indices()  # terms in column order, whatever the storage
    return csr


class _Writer:
    """Emits the straight-line body: typed constants and one statement per value."""

    def __init__(self, dtype: np.dtype) -> None:
        self.dtype = dtype
        self.constants: dict[float, str] = {}
        self.lines: list[str] = []

    def const(self, value: float) -> str:
        value = float(self.dtype.type(value))  # the value the numpy engine multiplies by
        if value not in self.constants:
            self.constants[value] = f"k{len(self.constants)}"
        return self.constants[value]

    def terms(self, matrix: Any, row: int, names: list[str]) -> list[str]:
        """``value, weight`` pairs of one row of a CSR matrix, in column order."""
        found = []
        start, stop = matrix.indptr[row], matrix.indptr[row + 1]
        for column, weight in zip(matrix.indices[start:stop], matrix.data[start:stop], strict=True):
            if self.dtype.type(weight) != 0:  # 0 * v adds exactly 0: leave it out
                found.append(f"{names[column]}, {self.const(weight)}")
        return found

    def assign(self, target: str, pairs: list[str]) -> None:
        """``target = lin(v0, w0, v1, w1, ...)``: the sum of products, left to right."""
        value = f"lin({', '.join(pairs)})" if pairs else self.const(0.0)
        self.lines.append(f"{target} = {value}")

    def layer(self, index: int, layer: Any, values: list[str]) -> list[str]:
        """Statements for one layer reading ``values``; returns its output names."""
        weight = csr(layer.weight)
        hidden = []
        zero, one = self.const(0.0), self.const(1.0)
        for unit, name in enumerate(layer.activations):
            z = f"z{index}_{unit}"
            parts = self.terms(weight, unit, values)
            if self.dtype.type(layer.bias[unit]) != 0:  # added last, as numpy adds it
                parts.append(f"{one}, {self.const(layer.bias[unit])}")
            self.assign(z, parts)
            h = f"h{index}_{unit}"
            self.lines.append(f"{h} = " + ACTIVATIONS[name].scalar.format(z=z, zero=zero, one=one))
            hidden.append(h)
        if layer.out_weight is None:
            return hidden
        skip, out = csr(layer.skip), csr(layer.out_weight)
        outputs = []
        for row in range(layer.outputs):
            y = f"y{index}_{row}"  # skip @ v + out_weight @ h, one sum
            self.assign(y, self.terms(skip, row, values) + self.terms(out, row, hidden))
            outputs.append(y)
        return outputs


def kernel_source(model: CompiledModel, dtype: Any = np.float64) -> str:
    """The Python source numba compiles for ``model`` in ``dtype``.

    It defines ``kernel(X, Y)``, which fills ``Y`` (``(batch, n_outputs)``) from
    ``X`` (``(batch, n)``), both C-contiguous arrays of ``dtype``.

    Examples
    --------
    >>> import compilers, sortnet
    >>> model = compilers.compile(sortnet.Network.from_comparators(2, [(0, 1)]), "abs")
    >>> body = kernel_source(model, np.float32).split("for r in range(64):")[1]
    >>> print(body.split("for r in range(m)")[0].rstrip())
    <BLANKLINE>
                x0 = S[0 + r]
                x1 = S[64 + r]
                z0_0 = lin(x0, k2, x1, k3)
                h0_0 = abs(z0_0)
                z0_1 = lin(x0, k2, x1, k2)
                h0_1 = z0_1
                z1_0 = lin(h0_0, k4, h0_1, k1)
                h1_0 = z1_0
                z1_1 = lin(h0_0, k1, h0_1, k1)
                h1_1 = z1_1
                S[128 + r] = h1_0
                S[192 + r] = h1_1
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise SortnetError(f"the numba engine runs float32 or float64, not {dtype}")
    writer = _Writer(dtype)
    n, rows, ind = model.n, BLOCK_ROWS, " " * 12
    outputs = model.n_outputs
    values = [f"x{w}" for w in range(n)]
    for index, layer in enumerate(model.layers):
        values = writer.layer(index, layer, values)
    # One private 1-D buffer per call holds a block transposed: input wire w at
    # S[w * rows + r], output p at S[(n + p) * rows + r]. The loop body then reads
    # and writes contiguous rows, so LLVM vectorises the row loop; constant offsets
    # into one 1-D array let it prove the reads and writes apart (two arrays, or
    # run-time strides, would need a second, scalar copy of the body for aliasing).
    # The loop always runs BLOCK_ROWS times (no remainder copy either): a partial
    # block computes on zeros or on a previous block's rows, already checked.
    body = [
        "    rows = X.shape[0]",
        f"    S = np.zeros({(n + outputs) * rows}, X.dtype)",
        f"    for r0 in range(0, rows, {rows}):",
        f"        m = min({rows}, rows - r0)",
        "        for r in range(m):",
        *[f"{ind}S[{w * rows} + r] = X[r0 + r, {w}]" for w in range(n)],
        f"        for r in range({rows}):",
        *[f"{ind}x{w} = S[{w * rows} + r]" for w in range(n)],
        *[ind + line for line in writer.lines],
        *[f"{ind}S[{(n + p) * rows} + r] = {name}" for p, name in enumerate(values)],
        "        for r in range(m):",
        *[f"{ind}Y[r0 + r, {p}] = S[{(n + p) * rows} + r]" for p in range(outputs)],
    ]
    constants = [
        f"    {name} = np.{dtype.name}({value!r})" for value, name in writer.constants.items()
    ]
    header = (
        # Nothing from the metadata here: equal weights must give the same source.
        f"# Generated by sortnet.nn.codegen (codegen {CODEGEN_VERSION}): n={n} -> "
        f"{outputs}, {dtype.name}. Do not edit.\n"
        "import numpy as np\n"
        "from numba import njit\n\n"
        "from sortnet.nn.intrinsics import lin\n\n\n"
        "@njit(cache=True, boundscheck=False, nogil=True)\n"
        "def kernel(X, Y):\n"
    )
    return header + "\n".join(constants + body) + "\n"

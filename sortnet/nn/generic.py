"""The generic model kernel: run any compiled model given as sparse arrays (numba).

One function, compiled once per dtype and shared by every model, so a model of
any size runs sparse without a compilation of its own (no cliff at a number of
non-zero weights). :mod:`sortnet.nn.program` flattens a model into a *program*:
one entry per unit (where its terms start and stop, its bias, its activation code,
the buffer row it writes) and one entry per term (the buffer row it reads, its
weight). :mod:`sortnet.nn.kernels` copies this file's text into the kernel cache
directory and imports the copy, so numba caches its machine code there.

Layout. Rows go in blocks of :data:`BLOCK`: the block is transposed into a private
buffer ``S[row, r]`` (the model's inputs are rows ``0..n-1``), every unit is then
one loop over the block's rows (LLVM vectorises it: a packed multiply and add per
term), and the output rows are copied back. Arithmetic matches the straight-line
kernels (:mod:`sortnet.nn.codegen`): the products of a unit's non-zero weights are
added left to right in column order, without fused multiply-add, the bias last.

Importing this module requires numba. The function is serial and releases the GIL;
the executor runs chunks on its own threads.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

#: Rows per block (the vectorised unit loop runs this often).
BLOCK = 64

#: Activation codes (the order of this tuple): see :data:`sortnet.nn.activations.ACTIVATIONS`.
CODES = ("identity", "abs", "relu", "step", "indicator", "softplus")


@njit(cache=True, boundscheck=False, nogil=True)
def run_model(
    X: Any,
    Y: Any,
    width: int,
    units: Any,
    biased: Any,
    bias: Any,
    terms: Any,
    weights: Any,
    outputs: Any,
) -> None:
    """Fill ``Y`` with the model's outputs on the rows of ``X``.

    ``units[u] = (target row, first term, stop term, activation code)``; ``biased[u]``
    says whether ``bias[u]`` is added; ``terms[t]`` is the buffer row term ``t``
    reads and ``weights[t]`` its weight; ``outputs[p]`` the buffer row of output
    ``p``; ``width`` the buffer's rows.
    """
    n = X.shape[1]
    S = np.zeros((width, BLOCK), X.dtype)
    acc = np.zeros(BLOCK, X.dtype)
    zero = X.dtype.type(0)
    one = X.dtype.type(1)
    for r0 in range(0, X.shape[0], BLOCK):
        m = min(BLOCK, X.shape[0] - r0)
        for r in range(m):
            for w in range(n):
                S[w, r] = X[r0 + r, w]
        for u in range(units.shape[0]):
            target, first, stop, code = units[u, 0], units[u, 1], units[u, 2], units[u, 3]
            if first == stop:
                for r in range(BLOCK):
                    acc[r] = zero
            elif stop - first == 2:  # the common unit (a comparator's): one pass
                row, other = S[terms[first]], S[terms[first + 1]]
                weight, second = weights[first], weights[first + 1]
                for r in range(BLOCK):
                    acc[r] = row[r] * weight + other[r] * second
            else:
                row = S[terms[first]]
                weight = weights[first]
                for r in range(BLOCK):
                    acc[r] = row[r] * weight
                for t in range(first + 1, stop):
                    row = S[terms[t]]
                    weight = weights[t]
                    for r in range(BLOCK):
                        acc[r] = acc[r] + row[r] * weight
            if biased[u]:
                b = bias[u]
                for r in range(BLOCK):
                    acc[r] = acc[r] + b
            out = S[target]
            if code == 0:
                for r in range(BLOCK):
                    out[r] = acc[r]
            elif code == 1:
                for r in range(BLOCK):
                    out[r] = abs(acc[r])
            elif code == 2:
                for r in range(BLOCK):
                    out[r] = acc[r] if acc[r] > zero else zero  # +0.0 for -0.0
            elif code == 3:
                for r in range(BLOCK):
                    out[r] = one if acc[r] >= zero else zero
            elif code == 4:
                for r in range(BLOCK):
                    out[r] = one if abs(acc[r]) <= one else zero
            else:
                for r in range(BLOCK):
                    z = acc[r]
                    out[r] = max(z, zero) + np.log1p(np.exp(-abs(z)))
        for r in range(m):
            for p in range(outputs.shape[0]):
                Y[r0 + r, p] = S[outputs[p], r]

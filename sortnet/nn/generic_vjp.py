"""The generic reverse-mode kernel: ``dX = dY @ J(X)`` for any model given as arrays (numba).

The same program as :mod:`sortnet.nn.generic` (:mod:`sortnet.nn.program`): rows go in
blocks of :data:`BLOCK`; the forward pass runs every unit over the block and keeps
its activation derivative ``act'(z)`` per unit and row (identity 1, abs ``sign(z)``,
relu ``z > 0``, softplus ``sigmoid(z)``, step and indicator 0); the backward sweep
walks the units in reverse, ``g = act'(z) * G[target]`` (then ``G[target] = 0``: a
buffer row is rewritten by later layers), and adds ``weight * g`` to the gradient of
every row the unit reads. Rows where a relu or abs unit has ``z == 0`` exactly are
flagged in ``tied``: the caller redoes them with the numpy engine's tie rule.
:mod:`sortnet.nn.vjp_numba` copies this file into the kernel cache directory and
imports the copy, so numba caches its machine code there.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

#: Rows per block.
BLOCK = 64


@njit(cache=True, boundscheck=False, nogil=True)
def run_vjp(
    X: Any,
    dY: Any,
    dX: Any,
    tied: Any,
    width: int,
    units: Any,
    biased: Any,
    bias: Any,
    terms: Any,
    weights: Any,
    outputs: Any,
) -> None:
    """Fill ``dX`` with ``dY`` sent back through the model at the rows of ``X``.

    Program arguments as for :func:`sortnet.nn.generic.run_model`; ``tied[r]`` is
    set when row ``r`` hits a relu or abs kink exactly (left unset otherwise).
    """
    n = X.shape[1]
    count = units.shape[0]
    S = np.zeros((width, BLOCK), X.dtype)
    G = np.zeros((width, BLOCK), X.dtype)
    D = np.zeros((count, BLOCK), X.dtype)
    acc = np.zeros(BLOCK, X.dtype)
    g = np.zeros(BLOCK, X.dtype)
    zero = X.dtype.type(0)
    one = X.dtype.type(1)
    for r0 in range(0, X.shape[0], BLOCK):
        m = min(BLOCK, X.shape[0] - r0)
        for r in range(m):
            for w in range(n):
                S[w, r] = X[r0 + r, w]
        for u in range(count):
            target, first, stop, code = units[u, 0], units[u, 1], units[u, 2], units[u, 3]
            for r in range(BLOCK):
                acc[r] = zero
            for t in range(first, stop):
                row = S[terms[t]]
                weight = weights[t]
                for r in range(BLOCK):
                    acc[r] = acc[r] + row[r] * weight
            if biased[u]:
                b = bias[u]
                for r in range(BLOCK):
                    acc[r] = acc[r] + b
            out = S[target]
            d = D[u]
            if code == 0:
                for r in range(BLOCK):
                    out[r] = acc[r]
                    d[r] = one
            elif code == 1:
                for r in range(BLOCK):
                    z = acc[r]
                    out[r] = abs(z)
                    d[r] = one if z > zero else (-one if z < zero else zero)
                for r in range(m):
                    if acc[r] == zero:
                        tied[r0 + r] = True
            elif code == 2:
                for r in range(BLOCK):
                    z = acc[r]
                    out[r] = max(z, zero)
                    d[r] = one if z > zero else zero
                for r in range(m):
                    if acc[r] == zero:
                        tied[r0 + r] = True
            elif code == 3:
                for r in range(BLOCK):
                    out[r] = one if acc[r] >= zero else zero
                    d[r] = zero
            elif code == 4:
                for r in range(BLOCK):
                    out[r] = one if abs(acc[r]) <= one else zero
                    d[r] = zero
            else:
                for r in range(BLOCK):
                    z = acc[r]
                    e = np.exp(-abs(z))
                    out[r] = max(z, zero) + np.log1p(e)
                    d[r] = one / (one + e) if z >= zero else e / (one + e)
        for w in range(width):
            row = G[w]
            for r in range(BLOCK):
                row[r] = zero
        for p in range(outputs.shape[0]):
            row = G[outputs[p]]
            for r in range(m):
                row[r] = row[r] + dY[r0 + r, p]
        for u in range(count - 1, -1, -1):
            target, first, stop = units[u, 0], units[u, 1], units[u, 2]
            back = G[target]
            d = D[u]
            for r in range(BLOCK):
                g[r] = back[r] * d[r]
                back[r] = zero
            for t in range(first, stop):
                row = G[terms[t]]
                weight = weights[t]
                for r in range(BLOCK):
                    row[r] = row[r] + g[r] * weight
        for r in range(m):
            for w in range(n):
                dX[r0 + r, w] = G[w, r]

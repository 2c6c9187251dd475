"""The generic kernels: run any comparator schedule given as an array (numba).

One kernel per kind (sort, argsort), compiled once per dtype and shared by every
network, so running a new network costs no compilation: the comparators are an
``(m, 2)`` integer array and the output wires an integer array, read at run time.
:mod:`sortnet.circuit.kernels` copies this file's text into the kernel cache
directory and imports the copy (numba's ``cache=True`` keys machine code on a real
file), so the machine code is cached with the other kernels, in ``SORTNET_CACHE_DIR``.

Layout. Rows go in blocks of :data:`BLOCK` (64): a block is transposed into a private
``(n, BLOCK)`` buffer (``T[w, r]`` is wire ``w`` of row ``r``; with vector shuffles
in 16- or 8-row tiles when ``n`` allows it, else element by element), every
comparator is then one loop over the block's rows, which LLVM vectorises into packed
compare-and-select instructions, and the output wires are copied back. The loop
always runs over the whole buffer (a partial block computes on zeros or on an
earlier block's rows, never stored).

Exactness: each comparator is :func:`sortnet.circuit.intrinsics.cmpx` (swap exactly
when the second value is smaller) or ``cmpx_index`` (ties by index, a stable
argsort), as in the straight-line kernels: bit for bit the same outputs.

Importing this module requires numba. The functions are serial and release the GIL;
the caller splits rows over threads.
"""

# numba's intrinsics are typed as one-argument callables to mypy; their calls here are right.
# mypy: disable-error-code="arg-type, call-arg"
from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from sortnet.circuit.intrinsics import cmpx, cmpx_index, transpose_tile

#: Rows per block (a 64 x 64 float32 buffer is 16 KB: it stays in L1).
BLOCK = 64


@njit(cache=True, boundscheck=False, nogil=True)
def _load(X: Any, T: Any, r0: int, m: int, lanes: int) -> None:
    """``T[w, r] = X[r0 + r, w]`` for the block's ``m`` rows (tiles when full and allowed)."""
    n = X.shape[1]
    if m == BLOCK and lanes == 16:
        for c in range(0, n, 16):
            for q in range(0, BLOCK, 16):
                transpose_tile(X, r0 + q, c, T, c, q, 16)
    elif m == BLOCK and lanes == 8:
        for c in range(0, n, 8):
            for q in range(0, BLOCK, 8):
                transpose_tile(X, r0 + q, c, T, c, q, 8)
    elif m == BLOCK and lanes == 4:
        for c in range(0, n, 4):
            for q in range(0, BLOCK, 4):
                transpose_tile(X, r0 + q, c, T, c, q, 4)
    else:
        for w in range(n):
            for r in range(m):
                T[w, r] = X[r0 + r, w]


@njit(cache=True, boundscheck=False, nogil=True)
def _store(T: Any, Y: Any, r0: int, m: int, outputs: Any, lanes: int, identity: bool) -> None:
    """``Y[r0 + r, p] = T[outputs[p], r]`` (tiles when every wire is an output in order)."""
    if identity and m == BLOCK and lanes == 16:
        for c in range(0, Y.shape[1], 16):
            for q in range(0, BLOCK, 16):
                transpose_tile(T, c, q, Y, r0 + q, c, 16)
    elif identity and m == BLOCK and lanes == 8:
        for c in range(0, Y.shape[1], 8):
            for q in range(0, BLOCK, 8):
                transpose_tile(T, c, q, Y, r0 + q, c, 8)
    elif identity and m == BLOCK and lanes == 4:
        for c in range(0, Y.shape[1], 4):
            for q in range(0, BLOCK, 4):
                transpose_tile(T, c, q, Y, r0 + q, c, 4)
    else:
        for p in range(outputs.shape[0]):
            row = T[outputs[p]]
            for r in range(m):
                Y[r0 + r, p] = row[r]


@njit(cache=True, boundscheck=False, nogil=True)
def sort_rows(X: Any, Y: Any, pairs: Any, outputs: Any, lanes: int, identity: bool) -> None:
    """Fill ``Y`` with the outputs of the comparators ``pairs`` on each row of ``X``.

    ``lanes`` is 16, 8 or 4 when ``n`` is a multiple of it and tile transposes of
    ``lanes`` rows fit 64 bytes (C-contiguous arrays), else 0; ``identity`` says that
    the outputs are the wires ``0..n-1`` in order.
    """
    n = X.shape[1]
    T = np.zeros((n, BLOCK), X.dtype)
    for r0 in range(0, X.shape[0], BLOCK):
        m = min(BLOCK, X.shape[0] - r0)
        _load(X, T, r0, m, lanes)
        for c in range(pairs.shape[0]):
            a = T[pairs[c, 0]]
            b = T[pairs[c, 1]]
            for r in range(BLOCK):
                a[r], b[r] = cmpx(a[r], b[r])
        _store(T, Y, r0, m, outputs, lanes, identity)


@njit(cache=True, boundscheck=False, nogil=True)
def argsort_rows(X: Any, Y: Any, pairs: Any, outputs: Any) -> None:
    """Fill ``Y`` with the input column reaching each output (ties by index: stable)."""
    n = X.shape[1]
    T = np.zeros((n, BLOCK), X.dtype)
    P = np.zeros((n, BLOCK), Y.dtype)
    for r0 in range(0, X.shape[0], BLOCK):
        m = min(BLOCK, X.shape[0] - r0)
        for r in range(m):
            for w in range(n):
                T[w, r] = X[r0 + r, w]
        for w in range(n):
            for r in range(BLOCK):
                P[w, r] = w
        for c in range(pairs.shape[0]):
            i = pairs[c, 0]
            j = pairs[c, 1]
            a, b, p, q = T[i], T[j], P[i], P[j]
            for r in range(BLOCK):
                a[r], b[r], p[r], q[r] = cmpx_index(a[r], b[r], p[r], q[r])
        for r in range(m):
            for k in range(outputs.shape[0]):
                Y[r0 + r, k] = P[outputs[k], r]

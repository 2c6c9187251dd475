"""The numba twin of :func:`sortnet.zero_one.check_block_numpy` (optional speed-up).

One compiled loop builds each 64-pattern word of the input from the inner block and
the outer mask, keeps the ``n`` wire words in a small local array while the whole
suffix runs, and checks the outputs, so nothing round-trips through memory. It
releases the GIL, so threads over chunks use every core. Importing this module
imports numba; :mod:`sortnet.verify` only does so for large checks, and falls back
to numpy when numba is missing.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def check_blocks(inner_t, outer_masks, suffix, pairs, thresholds, count_bits):  # type: ignore[no-untyped-def]
    """First failure over outer indices and inner words, as ``(u, w, bits)``.

    ``inner_t`` is the inner block transposed to ``(words, n)``; the input word of
    wire ``i`` for outer index ``u`` is ``inner_t[w, i]``, or all ones where bit ``i``
    of ``outer_masks[u]`` is set. Returns ``(-1, -1, 0)`` when every pattern passes.
    """
    words, n = inner_t.shape
    zero = np.uint64(0)
    one = np.uint64(1)
    ones = ~zero
    x = np.empty(n, dtype=np.uint64)
    outer = np.empty(n, dtype=np.uint64)
    counter = np.empty(max(count_bits, 1), dtype=np.uint64)
    for u in range(outer_masks.shape[0]):
        mask = outer_masks[u]
        for i in range(n):
            outer[i] = ones if (mask >> np.uint64(i)) & one else zero
        for w in range(words):
            for i in range(n):
                x[i] = inner_t[w, i] | outer[i]
            for c in range(suffix.shape[0]):
                a = suffix[c, 0]
                b = suffix[c, 1]
                low = x[a] & x[b]
                x[b] = x[a] | x[b]
                x[a] = low
            bad = zero
            for p in range(pairs.shape[0]):
                bad |= x[pairs[p, 0]] & ~x[pairs[p, 1]]
            if thresholds.shape[0] > 0:
                for bit in range(count_bits):
                    counter[bit] = zero
                for i in range(n):
                    carry = x[i]
                    for bit in range(count_bits):
                        overflow = counter[bit] & carry
                        counter[bit] ^= carry
                        carry = overflow
                for r in range(thresholds.shape[0]):
                    t = thresholds[r, 1]
                    greater = zero
                    equal = ones
                    for bit in range(count_bits - 1, -1, -1):
                        if (t >> bit) & 1:
                            equal &= counter[bit]
                        else:
                            greater |= equal & counter[bit]
                            equal &= ~counter[bit]
                    bad |= (greater | equal) ^ x[thresholds[r, 0]]
            if bad != zero:
                return u, w, bad
    return -1, -1, zero

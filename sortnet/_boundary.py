"""scipy's boundary modes: where an image axis extended past its border reads from.

Both runtimes need the same index maps: the circuit's rank filter
(:mod:`sortnet.circuit.filters`) and the ONNX median filter (:mod:`sortnet.nn.filter_onnx`)
gather the extended image with them. Like :mod:`sortnet._jit`, this module sits below both
runtimes and imports nothing of sortnet but :mod:`sortnet.errors`.
"""

from __future__ import annotations

import numpy as np

from sortnet.errors import InputError

__all__ = ["MODES", "pad_indices"]

#: scipy.ndimage's boundary modes, as ``rank_filter`` takes them.
MODES = ("reflect", "nearest", "constant", "mirror", "wrap")


def pad_indices(length: int, half: int, mode: str) -> np.ndarray:
    """Source index of each position of an axis extended by ``half`` on both sides.

    ``-1`` marks ``cval`` (``constant`` mode). Any ``half``, also past ``length``
    (scipy reflects as many times as it takes).

    Examples
    --------
    >>> pad_indices(3, 4, "reflect").tolist()
    [2, 2, 1, 0, 0, 1, 2, 2, 1, 0, 0]
    >>> pad_indices(3, 2, "mirror").tolist(), pad_indices(3, 2, "constant").tolist()
    ([2, 1, 0, 1, 2, 1, 0], [-1, -1, 0, 1, 2, -1, -1])
    """
    index = np.arange(-half, length + half)
    if length == 0:  # an empty image: nothing is read
        return np.full(index.shape, -1)
    if mode == "nearest":
        return np.clip(index, 0, length - 1)
    if mode == "constant":
        return np.where((index >= 0) & (index < length), index, -1)
    if mode == "wrap":
        return index % length
    if mode == "mirror":
        if length == 1:
            return np.zeros_like(index)
        period = 2 * length - 2
        folded = index % period
        return np.where(folded < length, folded, period - folded)
    if mode == "reflect":
        folded = index % (2 * length)
        return np.where(folded < length, folded, 2 * length - 1 - folded)
    raise InputError(f"unknown mode {mode!r}; choose {', '.join(MODES)}")

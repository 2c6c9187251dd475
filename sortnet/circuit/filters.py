"""Median and rank filters on images with selection networks, equal to ``scipy.ndimage``.

:func:`rank_filter` returns what ``scipy.ndimage.rank_filter`` (and ``median_filter``)
return for a rectangular window, bit for bit, and runs the smallest known selection
network (:func:`sortnet.selection_network`) on every window:

* the image is extended by the boundary mode with index maps (:func:`pad_indices`),
  exactly as scipy extends it, also when the window is larger than the image;
* with numba, a generated kernel (:mod:`sortnet.circuit.filter_codegen`) extends one
  image row at a time into a ring of ``h`` rows, sorts each column of the window once
  per output row and shares it between the neighbouring windows, then runs a
  selection network that knows the columns are sorted
  (:func:`sortnet.circuit.filter_codegen.merge_network`); one thread per band of rows;
* without numba (or for small images whose kernel is not compiled yet) the selection
  network of the whole window runs column-wise in numpy over a block of rows.

Every compare-exchange is a min/max, so each output is one of the values of its
window (or ``cval``). Where this differs from scipy, on purpose: ``-0.0`` and ``0.0``
are equal values, and scipy's selection algorithm returns either sign depending on
where they sit in the window, and so may this module (every other output has scipy's
bit pattern); scipy computes 64-bit integers through float64, rounding them past
``2**53``, where this module returns the exact rank; scipy refuses float16.
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from sortnet._args import positive_int
from sortnet._jit import AUTO_MIN_ELEMENTS, choose_backend
from sortnet.circuit.filter_checks import (
    MODES,
    check_cval,
    check_image,
    pad_indices,
    resolve_filter_rank,
    window_size,
)
from sortnet.errors import InputError
from sortnet.generators.selection import selection_network
from sortnet.network import Comparator

__all__ = [
    "MODES",
    "FilterPlan",
    "pad_indices",
    "rank_filter",
    "resolve_filter_rank",
    "window_size",
]

#: Pixels per block of the numpy path (each comparator makes two arrays of this size).
BLOCK_PIXELS = 1 << 16


def rank_filter(
    image: Any,
    size: int | tuple[int, int],
    rank: int | str = "median",
    *,
    mode: str = "reflect",
    cval: float = 0.0,
    backend: str | None = None,
    threads: int | None = None,
) -> np.ndarray:
    """The rank filter of a 2-D image (or each channel of a channels-last 3-D image).

    Parameters
    ----------
    image : array_like, shape (H, W) or (H, W, C)
        Integer or floating values, no NaN (``inf`` is fine). A 3-D array is filtered
        channel by channel (scipy's ``size=(h, w, 1)``).
    size : int or (int, int)
        Window height and width, each odd and ``>= 1``; an int is a square window.
    rank : int or {"median", "min", "max"}, optional
        The 0-based rank within the window, like scipy's ``rank_filter`` (negative
        counts from the top: ``-1`` is the maximum); ``"median"`` is rank
        ``h * w // 2`` (scipy's ``median_filter``).
    mode : {"reflect", "nearest", "constant", "mirror", "wrap"}, optional
        How the image is extended beyond its border, as in scipy (``reflect``:
        ``d c b a | a b c d | d c b a``).
    cval : float, optional
        The value beyond the border in ``constant`` mode, converted to the image
        dtype; integer images need an integer ``cval`` their dtype holds.
    backend : {"auto", "numba", "numpy"}, optional
        Default ``$SORTNET_KERNEL``, else ``auto``: the compiled kernel for images of
        at least ``AUTO_MIN_ELEMENTS`` window values, or when already compiled.
    threads : int, optional
        Filter this many bands of rows at once (default 1: one core).

    Returns
    -------
    numpy.ndarray
        Same shape and dtype as ``image``.

    Raises
    ------
    InputError
        For NaN, a dtype that is not integer or floating, an image that is not 2-D or
        3-D, a size that is not odd and positive, an unknown mode, a rank outside the
        window or a ``cval`` the dtype cannot hold.

    Examples
    --------
    >>> image = np.array([[1, 9, 2], [8, 3, 7], [4, 6, 5]], dtype=np.uint8)
    >>> rank_filter(image, 3)
    array([[3, 3, 3],
           [4, 5, 5],
           [4, 5, 5]], dtype=uint8)
    >>> rank_filter(image, (1, 3), "max", mode="constant", cval=0)
    array([[9, 9, 9],
           [8, 8, 7],
           [6, 6, 6]], dtype=uint8)
    >>> rank_filter(image.astype(float), 4)
    Traceback (most recent call last):
    ...
    sortnet.errors.InputError: size must be odd, got 4 (the window is centred on its pixel)
    """
    threads = positive_int(threads, "threads") or 1
    image = check_image(image)
    plan = FilterPlan(image.shape, image.dtype, size, rank, mode, cval, backend)
    height = image.shape[0]
    if threads == 1 or height < 2:
        return plan.rows_of(image, 0, height)
    bounds = np.linspace(0, height, min(threads, height) + 1).astype(int)
    bands = list(zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True))
    with ThreadPoolExecutor(len(bands)) as pool:  # the kernels release the GIL
        parts = list(pool.map(lambda band: plan.rows_of(image, *band), bands))
    return np.concatenate(parts)


class FilterPlan:
    """What :func:`rank_filter` decides once per image: window, rank, extension, back end.

    :meth:`rows_of` then computes any band of output rows, reading only the image rows
    it needs (the command line filters a memory-mapped ``.npy`` file band by band).

    Examples
    --------
    >>> image = np.arange(20.0).reshape(4, 5)
    >>> plan = FilterPlan(image.shape, image.dtype, 3, "max", "nearest", 0.0, "numpy")
    >>> plan.rows_of(image, 2, 4)
    array([[16., 17., 18., 19., 19.],
           [16., 17., 18., 19., 19.]])
    """

    def __init__(
        self,
        shape: tuple[int, ...],
        dtype: np.dtype,
        size: Any,
        rank: Any,
        mode: str,
        cval: Any,
        backend: str | None,
    ) -> None:
        self.height, self.width = window_size(size)
        self.position = resolve_filter_rank(rank, self.height * self.width)
        if not isinstance(mode, str) or mode not in MODES:
            raise InputError(f"unknown mode {mode!r}; choose {', '.join(MODES)}")
        self.fill = check_cval(cval, np.dtype(dtype)) if mode == "constant" else None
        self.rows = pad_indices(shape[0], self.height // 2, mode)
        self.cols = pad_indices(shape[1], self.width // 2, mode)
        pixels = int(np.prod(shape))
        self.kernel = _use_kernel(
            np.dtype(dtype), pixels, self.height, self.width, self.position, backend
        )

    def rows_of(self, image: np.ndarray, start: int, stop: int) -> np.ndarray:
        """Output rows ``start:stop`` of the checked ``image`` (2-D or channels-last 3-D)."""
        out = np.empty((stop - start, *image.shape[1:]), dtype=image.dtype)
        if out.size == 0:
            return out
        rows = self.rows[start : stop + self.height - 1]
        channels = [None] if image.ndim == 2 else range(image.shape[2])
        for c in channels:
            plane = image if c is None else image[..., c]
            target = out if c is None else out[..., c]
            if self.kernel:
                from sortnet.circuit import filter_kernels

                filter_kernels.filter_into(
                    plane,
                    rows,
                    self.cols,
                    self.fill,
                    target,
                    self.height,
                    self.width,
                    self.position,
                )
            else:
                padded = extend(plane, rows, self.cols, self.fill)
                filter_numpy(padded, target, self.height, self.width, self.position)
        return out


def extend(plane: np.ndarray, rows: np.ndarray, cols: np.ndarray, fill: Any) -> np.ndarray:
    """The 2-D ``plane`` extended by the index maps of :func:`pad_indices` (C-contiguous).

    Examples
    --------
    >>> extend(np.array([[1, 2]]), np.array([-1, 0]), np.array([1, 0, 1, -1]), np.array(7))
    array([[7, 7, 7, 7],
           [2, 1, 2, 7]])
    """
    width = plane.shape[1]
    half = (len(cols) - width) // 2  # cols always covers the whole width plus the borders
    out = np.empty((len(rows), len(cols)), dtype=plane.dtype)
    out[:, half : half + width] = plane[np.maximum(rows, 0)]  # whole rows: a fast copy
    if fill is not None:
        out[rows < 0, half : half + width] = fill
    for side in (slice(0, half), slice(half + width, len(cols))):
        source = cols[side]
        out[:, side] = out[:, half + np.maximum(source, 0)]
        if fill is not None:
            out[:, side][:, source < 0] = fill
    return out


@functools.lru_cache(maxsize=64)
def window_network(n: int, position: int) -> tuple[tuple[Comparator, ...], int]:
    """``(comparators, output wire)`` of the smallest known network for rank ``position``.

    Examples
    --------
    >>> comparators, wire = window_network(25, 12)
    >>> len(comparators), wire
    (85, 12)
    """
    net = selection_network(n, position + 1)
    return tuple(net.comparators), net.output_wires[0]


def filter_numpy(
    padded: np.ndarray, out: np.ndarray, height: int, width: int, position: int
) -> None:
    """Fill ``out`` (H, W) from the extended ``padded`` with the network, column-wise in numpy.

    Examples
    --------
    >>> out = np.empty((1, 2), np.int64)
    >>> filter_numpy(np.array([[5, 1, 3, 0]]), out, 1, 3, 1); out
    array([[3, 1]])
    """
    comparators, wire = window_network(height * width, position)
    rows, cols = out.shape
    step = max(1, BLOCK_PIXELS // max(1, cols))
    for start in range(0, rows, step):
        stop = min(rows, start + step)
        wires = [
            padded[start + di : stop + di, dj : dj + cols]
            for di in range(height)
            for dj in range(width)
        ]
        for i, j in comparators:
            wires[i], wires[j] = np.minimum(wires[i], wires[j]), np.maximum(wires[i], wires[j])
        out[start:stop] = wires[wire]


def _use_kernel(
    dtype: np.dtype, pixels: int, height: int, width: int, position: int, backend: Any
) -> bool:
    chosen = choose_backend(backend)
    if chosen == "numpy" or height * width == 1:
        return False
    from sortnet.circuit import filter_kernels

    if dtype not in filter_kernels.KERNEL_DTYPES:
        return False
    if chosen == "numba":
        return True
    if pixels * height * width >= AUTO_MIN_ELEMENTS:
        return True
    return filter_kernels.is_compiled(dtype, height, width, position)

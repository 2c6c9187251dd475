"""The checks and boundary maps of :func:`sortnet.circuit.filters.rank_filter`.

Image, window size, rank and ``cval`` checks (each mistake one :class:`InputError`
naming it), and :func:`pad_indices`: scipy's extension of an axis beyond its border
for every boundary mode, however many times the window spans the image.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from sortnet._boundary import MODES, pad_indices
from sortnet.errors import InputError

__all__ = [
    "MODES",
    "check_cval",
    "check_image",
    "pad_indices",
    "resolve_filter_rank",
    "window_size",
]

#: scipy's boundary modes that :func:`sortnet.circuit.filters.rank_filter` accepts.


def check_image(image: Any) -> np.ndarray:
    """``image`` as an ndarray, checked: 2-D or 3-D, integer or floating, no NaN.

    Examples
    --------
    >>> check_image([[1.0, np.nan]])
    Traceback (most recent call last):
    ...
    sortnet.errors.InputError: the image contains NaN at pixel (0, 1)
    """
    try:
        image = np.asarray(image)
    except ValueError as error:  # ragged nested lists
        raise InputError(f"the image must be a rectangular array: {error}") from None
    if image.dtype.kind not in "iuf":
        raise InputError(f"the image must have an integer or floating dtype, got {image.dtype}")
    if image.ndim not in (2, 3):
        raise InputError(
            f"the image must be 2-D (H, W) or channels-last 3-D (H, W, C), got shape {image.shape}"
        )
    if image.dtype.kind == "f" and image.size and np.isnan(image.min()):
        where = tuple(int(i) for i in np.argwhere(np.isnan(image))[0])
        raise InputError(f"the image contains NaN at pixel {where}")
    return image


def window_size(size: Any) -> tuple[int, int]:
    """``(height, width)`` of the window: each an odd int ``>= 1``.

    Examples
    --------
    >>> window_size(5), window_size((3, 7))
    ((5, 5), (3, 7))
    >>> window_size(0)
    Traceback (most recent call last):
    ...
    sortnet.errors.InputError: size must be a positive odd integer, got 0
    """
    sizes = size if isinstance(size, (tuple, list)) else (size, size)
    if len(sizes) != 2:
        raise InputError(f"size must be an int or (height, width), got {size!r}")
    checked = []
    for value in sizes:
        if isinstance(value, (bool, str)) or not hasattr(value, "__index__"):
            raise InputError(f"size must be a positive odd integer, got {value!r}")
        value = operator.index(value)
        if value < 1:
            raise InputError(f"size must be a positive odd integer, got {value}")
        if value % 2 == 0:
            raise InputError(f"size must be odd, got {value} (the window is centred on its pixel)")
        checked.append(value)
    return checked[0], checked[1]


def resolve_filter_rank(rank: Any, n: int) -> int:
    """The 0-based rank among ``n`` window values: scipy's rule, plus three names.

    Examples
    --------
    >>> resolve_filter_rank("median", 9), resolve_filter_rank("max", 9), resolve_filter_rank(-2, 9)
    (4, 8, 7)
    >>> resolve_filter_rank(9, 9)
    Traceback (most recent call last):
    ...
    sortnet.errors.InputError: rank must be in -9..8 for a window of 9 values, got 9
    """
    named = {"median": n // 2, "min": 0, "max": n - 1}
    if isinstance(rank, str) and rank.lower() in named:
        return named[rank.lower()]
    if isinstance(rank, (str, bool)) or not hasattr(rank, "__index__"):
        raise InputError(
            f"rank must be an integer (0-based, negative from the top) or median, min, max; "
            f"got {rank!r}"
        )
    value = operator.index(rank)
    if not -n <= value < n:
        raise InputError(f"rank must be in {-n}..{n - 1} for a window of {n} values, got {value}")
    return value + n if value < 0 else value


def check_cval(cval: Any, dtype: np.dtype) -> np.ndarray:
    """``cval`` as a 0-d array of ``dtype``; integer dtypes need an integer they hold.

    Examples
    --------
    >>> check_cval(300, np.dtype(np.uint8))
    Traceback (most recent call last):
    ...
    sortnet.errors.InputError: cval 300 does not fit uint8 (0..255)
    """
    if isinstance(cval, (bool, str, bytes)) or not isinstance(cval, (int, float, np.number)):
        raise InputError(f"cval must be a number, got {cval!r}")
    if np.isnan(cval):
        raise InputError("cval must not be NaN")
    if dtype.kind == "f":
        return np.asarray(cval, dtype=dtype)
    info = np.iinfo(dtype)
    if isinstance(cval, (float, np.floating)) and not float(cval).is_integer():
        raise InputError(f"cval {cval!r} is not an integer; the image has dtype {dtype}")
    value = int(cval)
    if not info.min <= value <= info.max:
        raise InputError(f"cval {cval!r} does not fit {dtype} ({info.min}..{info.max})")
    return np.asarray(value, dtype=dtype)

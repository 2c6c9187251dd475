"""Images in and out of ``sortnet filter``: checked, memory-mapped ``.npy`` files and pictures.

A ``.npy`` image (2-D, or channels-last 3-D) is checked against its header before any
data is read, like the rows of ``sortnet sort`` (:mod:`sortnet.cli._npy`), then mapped
read-only so it is filtered a band of rows at a time. Picture files (PNG, JPEG, TIFF,
BMP) are read and written with Pillow when it is installed (it comes with matplotlib,
the ``bench`` extra); without it they are refused with a one-line error.
"""

from __future__ import annotations

import mmap
import os
import stat
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib import format as npy_format

from sortnet.errors import InputError, SortnetError

#: Picture suffixes read and written through Pillow.
PICTURES = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF"}
PICTURES[".bmp"] = "BMP"


def _pillow() -> Any:
    try:
        from PIL import Image
    except ImportError:
        raise SortnetError(
            "reading and writing pictures needs Pillow (pip install pillow); or use .npy files"
        ) from None
    return Image


def kind_of(path: str, what: str) -> str:
    """``"npy"`` or the Pillow format name of ``path``'s suffix; refuse others.

    Examples
    --------
    >>> kind_of("a.npy", "input"), kind_of("b.PNG", "--output")
    ('npy', 'PNG')
    >>> kind_of("c.gif", "input")
    Traceback (most recent call last):
    ...
    sortnet.errors.SortnetError: input must be a .npy file or a picture (.png, .jpg, .jpeg, .tif, .tiff, .bmp), got 'c.gif'
    """  # noqa: E501
    suffix = Path(path).suffix.lower()
    if suffix == ".npy":
        return "npy"
    if suffix in PICTURES:
        return PICTURES[suffix]
    raise SortnetError(
        f"{what} must be a .npy file or a picture ({', '.join(PICTURES)}), got {path!r}"
    )


def open_image(path: str) -> np.ndarray:
    """The image at ``path``: a read-only memory map of a checked ``.npy``, or a picture."""
    if kind_of(path, "input") != "npy":
        image = _pillow()
        try:
            with image.open(path) as picture:
                if picture.mode in ("P", "PA", "1", "CMYK", "YCbCr", "LAB", "HSV"):
                    picture = picture.convert("RGBA" if "A" in picture.mode else "RGB")
                return np.asarray(picture)
        except (OSError, ValueError, SyntaxError, image.DecompressionBombError) as error:
            if isinstance(error, (FileNotFoundError, IsADirectoryError, PermissionError)):
                raise
            raise InputError(f"{path}: not a picture Pillow can read ({error})") from None
    return _map_npy(path)


def _map_npy(path: str) -> np.ndarray:
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    info = os.fstat(descriptor)
    if not stat.S_ISREG(info.st_mode):
        os.close(descriptor)
        raise InputError(f"{path}: not a regular file (a .npy file is needed)")
    with os.fdopen(descriptor, "rb") as stream:
        try:
            version = npy_format.read_magic(stream)
            reader = {(1, 0): npy_format.read_array_header_1_0}.get(
                version, npy_format.read_array_header_2_0
            )
            shape, fortran, dtype = reader(stream)
        except (ValueError, SyntaxError, TypeError, EOFError) as error:
            raise InputError(f"{path}: not a .npy file ({error})") from None
        if dtype.hasobject or dtype.kind not in "biufc" or dtype.fields is not None:
            raise InputError(f"{path}: dtype {dtype} is not numbers sortnet can filter")
        if fortran and len(shape) > 1:
            raise InputError(f"{path}: stored in Fortran order; save a C-ordered array")
        if len(shape) not in (2, 3):
            raise InputError(f"{path}: an image is 2-D (H, W) or 3-D (H, W, C), got {shape}")
        offset = stream.tell()
        expected = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if info.st_size - offset != expected:
            raise InputError(
                f"{path}: the header says {shape} {dtype} ({expected} bytes of data) "
                f"but the file holds {info.st_size - offset}"
            )
        if expected == 0:
            return np.empty(shape, dtype)
        mapping = mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ)
    return np.ndarray(shape, dtype=dtype, buffer=mapping, offset=offset, order="C")


def picture_bytes(image: np.ndarray, fmt: str, path: str) -> Any:
    """A writer ``write(stream)`` of ``image`` as a picture of Pillow format ``fmt``."""
    pillow = _pillow()
    if not (
        image.dtype == np.uint8
        and (image.ndim == 2 or image.shape[2] in (3, 4))
        or (image.dtype == np.uint16 and image.ndim == 2 and fmt in ("PNG", "TIFF"))
    ):
        raise SortnetError(
            f"{path}: a {fmt} picture holds uint8 gray, RGB or RGBA (or uint16 gray PNG/TIFF); "
            f"the result is {image.dtype} of shape {image.shape}: write a .npy file"
        )
    picture = pillow.fromarray(image)
    return lambda stream: picture.save(stream, format=fmt)

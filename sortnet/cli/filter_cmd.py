"""``sortnet filter IN -o OUT --size S [--rank R] [--mode M] [--cval C]``: rank filters.

``IN`` is a ``.npy`` image (2-D, or channels-last 3-D) or a picture (with Pillow);
``OUT`` a ``.npy`` file or a picture, written atomically (temporary file, then
rename). A ``.npy`` input is checked against its header, memory-mapped, and filtered
a band of rows at a time, each band appended to the output as it is done, so memory
stays at a few bands whatever the image size (see :func:`sortnet.rank_filter`).
"""

from __future__ import annotations

import argparse
import re
from typing import Any

import numpy as np

from sortnet.circuit.filters import MODES, FilterPlan, check_image
from sortnet.cli._common import positive_int
from sortnet.cli._image import kind_of, open_image, picture_bytes
from sortnet.cli._npy import write_npy_header
from sortnet.cli._stream import BlockWriter
from sortnet.errors import InputError, SortnetError
from sortnet.io.atomic import atomic_write, check_target
from sortnet.progress import progress

#: Input bytes per band of rows (about; at least one row).
BAND_BYTES = 16 << 20


def register(subparsers: Any) -> None:
    """Add the ``filter`` subcommand."""
    parser = subparsers.add_parser(
        "filter",
        help="median or rank filter of an image (equal to scipy.ndimage)",
        description="Filter an image with the rank (default: median) of each window, "
        "computed with selection networks; equal to scipy.ndimage.rank_filter.",
    )
    parser.add_argument(
        "input", metavar="IN", help="a .npy image (H, W) or (H, W, C), or a picture"
    )
    parser.add_argument(
        "-o", "--output", required=True, metavar="OUT", help="a .npy file or a picture"
    )
    parser.add_argument(
        "--size", required=True, help="window size: odd N for N x N, or HxW (e.g. 3x5)"
    )
    parser.add_argument(
        "--rank",
        default="median",
        help="median (default), min, max, or a 0-based rank "
        "(negative counts from the top, as in scipy.ndimage.rank_filter)",
    )
    parser.add_argument("--mode", default="reflect", choices=MODES, help="boundary mode")
    parser.add_argument("--cval", default="0", help="value beyond the border in constant mode")
    parser.add_argument(
        "--block-rows",
        type=positive_int,
        default=None,
        metavar="ROWS",
        help=f"rows per band (default: about {BAND_BYTES >> 20} MB of input per band)",
    )
    parser.set_defaults(func=run)


def parse_size(text: str) -> int | tuple[int, int]:
    """``"5"`` or ``"3x5"`` (also ``3,5``); the values are checked by the filter.

    Examples
    --------
    >>> parse_size("5"), parse_size("3x5")
    (5, (3, 5))
    >>> parse_size("five")
    Traceback (most recent call last):
    ...
    sortnet.errors.SortnetError: --size must be N or HxW with integers, got 'five'
    """
    parts = re.split(r"[x,]", text.strip())
    if not 1 <= len(parts) <= 2 or not all(re.fullmatch(r"[+-]?[0-9]+", p) for p in parts):
        raise SortnetError(f"--size must be N or HxW with integers, got {text!r}")
    values = [int(p) for p in parts]
    return values[0] if len(values) == 1 else (values[0], values[1])


def parse_rank(text: str) -> int | str:
    """``median``, ``min``, ``max`` or an integer (0-based, may be negative).

    Examples
    --------
    >>> parse_rank("median"), parse_rank("-1")
    ('median', -1)
    """
    if re.fullmatch(r"[+-]?[0-9]+", text.strip()):
        return int(text)
    return text.strip().lower()


def parse_cval(text: str) -> int | float:
    """An integer (kept exact) or a float.

    Examples
    --------
    >>> parse_cval("255"), parse_cval("-inf")
    (255, -inf)
    """
    if re.fullmatch(r"[+-]?[0-9]+", text.strip()):
        return int(text)
    try:
        return float(text)
    except ValueError:
        raise SortnetError(f"--cval must be a number, got {text!r}") from None


def run(args: argparse.Namespace) -> int:
    """Read, filter band by band, write; exit code 0 (user mistakes propagate to main)."""
    size, rank, cval = parse_size(args.size), parse_rank(args.rank), parse_cval(args.cval)
    out_kind = kind_of(args.output, "--output")
    check_target(args.output, "--output")  # a bad output fails before any work
    image = open_image(args.input)
    check_image(image[:0])  # dtype and shape (NaN is checked band by band)
    plan = FilterPlan(image.shape, image.dtype, size, rank, args.mode, cval, None)
    height = image.shape[0]
    row_bytes = max(1, image[:1].nbytes)
    step = args.block_rows or max(1, BAND_BYTES // row_bytes)

    def band(start: int) -> np.ndarray:
        stop = min(height, start + step)
        block = image[start:stop]
        if block.dtype.kind == "f" and block.size and np.isnan(block.min()):
            where = tuple(int(i) for i in np.argwhere(np.isnan(block))[0])
            where = (where[0] + start, *where[1:])
            raise InputError(f"{args.input}: the image contains NaN at pixel {where}")
        return plan.rows_of(image, start, stop)

    if out_kind != "npy":
        result = np.concatenate([band(s) for s in range(0, height, step)] or [image[:0]])
        atomic_write(args.output, picture_bytes(result, out_kind, args.output), "--output")
        return 0

    def write(stream: Any) -> None:
        write_npy_header(stream, image.shape, image.dtype)
        writer = BlockWriter(stream)
        try:
            with progress(height, desc="filter", unit="rows") as bar:
                for start in range(0, height, step):
                    out = band(start)
                    writer.put(np.ascontiguousarray(out))
                    bar.update(out.shape[0])
        finally:
            writer.close()

    atomic_write(args.output, write, "--output")
    return 0

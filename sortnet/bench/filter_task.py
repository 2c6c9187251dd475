"""Time ``rank_filter`` against ``scipy.ndimage.median_filter`` in one run (the README table).

``sortnet bench --task filter`` or
``python -m sortnet.bench.filter_task [--sizes 3 5 7 9] [--side 1024] [--repeats 5]``
prints a markdown table: for each window, the median time of scipy, of
:func:`sortnet.rank_filter` (shared column sorts, one thread) and of the ``direct``
kernel (one selection network per pixel, no sharing), and of ``rank_filter`` with
``threads=2`` (two bands of rows at once; scipy stays on one core), each call paired with a scipy
call just before it so both sides of a ratio see the same machine load, with the
compare-exchanges per pixel and whether the outputs are bit-identical. The load
average before and after is printed too (the development machine is shared).
Kernels are compiled (or loaded from the disk cache) before timing.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Sequence

import numpy as np
import scipy.ndimage as ndi

from sortnet.circuit import filter_codegen, filter_kernels
from sortnet.circuit.filters import pad_indices, rank_filter


def _timed(
    function: Callable[[np.ndarray, int], np.ndarray], image: np.ndarray, size: int
) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    result = function(image, size)
    return time.perf_counter() - start, result


def _scipy(image: np.ndarray, size: int) -> np.ndarray:
    return ndi.median_filter(image, size)  # type: ignore[no-any-return]


def _ours(image: np.ndarray, size: int) -> np.ndarray:
    return rank_filter(image, size, backend="numba")


def _two_threads(image: np.ndarray, size: int) -> np.ndarray:
    return rank_filter(image, size, backend="numba", threads=2)


def _direct(image: np.ndarray, size: int) -> np.ndarray:
    rows = pad_indices(image.shape[0], size // 2, "reflect")
    cols = pad_indices(image.shape[1], size // 2, "reflect")
    out = np.empty_like(image)
    position = size * size // 2
    filter_kernels.filter_into(image, rows, cols, None, out, size, size, position, "direct")
    return out


def bench(sizes: Sequence[int], side: int, repeats: int) -> list[str]:
    """The table's lines (markdown)."""
    image = np.random.default_rng(0).random((side, side)).astype(np.float32)
    lines = [
        "| window | scipy ms | sortnet ms (vs scipy) | direct ms (vs scipy) "
        "| sortnet, 2 threads ms (vs scipy) "
        "| compare-exchanges per pixel (shared + column sorts / direct) | identical |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for size in sizes:
        position = size * size // 2
        for form in ("shared", "direct"):
            filter_kernels.get_kernel(image.dtype, size, size, position, form)
        rank_filter(image, size, backend="numba")
        scipy_s: list[float] = []
        ours_s: list[float] = []
        direct_s: list[float] = []
        two_s: list[float] = []
        identical = True
        for _ in range(repeats):
            seconds, expected = _timed(_scipy, image, size)
            scipy_s.append(seconds)
            seconds, ours = _timed(_ours, image, size)
            ours_s.append(seconds)
            seconds, direct = _timed(_direct, image, size)
            direct_s.append(seconds)
            seconds, two = _timed(_two_threads, image, size)
            two_s.append(seconds)
            identical &= all(np.array_equal(out, expected) for out in (ours, direct, two))
        base = float(np.median(scipy_s))
        ours_m, direct_m = float(np.median(ours_s)), float(np.median(direct_s))
        two_m = float(np.median(two_s))
        _, shared = filter_codegen.kernel_source(size, size, position, "shared")
        _, plain = filter_codegen.kernel_source(size, size, position, "direct")
        columns = len(filter_codegen.column_sorter(size))
        lines.append(
            f"| {size}x{size} | {base * 1e3:.0f} | {ours_m * 1e3:.1f} (**{base / ours_m:.0f}x**) "
            f"| {direct_m * 1e3:.1f} (**{base / direct_m:.0f}x**) "
            f"| {two_m * 1e3:.1f} (**{base / two_m:.0f}x**) "
            f"| {shared} + {columns} / {plain} | {'yes' if identical else 'NO'} |"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Print the table, with the load average before and after; 1 if an output differed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[3, 5, 7, 9])
    parser.add_argument("--side", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    before = os.getloadavg()
    lines = bench(args.sizes, args.side, args.repeats)
    after = os.getloadavg()
    print(f"{args.side}x{args.side} float32 uniform [0, 1), median filter, reflect mode, ")
    print(f"one thread, {args.repeats} paired calls, medians; load average ")
    print(f"{before[0]:.2f} before, {after[0]:.2f} after\n")
    print("\n".join(lines))
    return 0 if all(line.endswith("| yes |") for line in lines[2:]) else 1


if __name__ == "__main__":
    raise SystemExit(main())

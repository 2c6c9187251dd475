"""Regenerate ``diagrams/median-filter.png``: a noisy picture and its median filter.

``python -m sortnet.devtools.filter_picture [PATH]`` draws a synthetic 8-bit picture
(a gradient, a disc, a square and stripes), adds 20% salt-and-pepper noise (a fixed
seed), filters it with :func:`sortnet.rank_filter` (5x5 median), checks the result
against ``scipy.ndimage.median_filter`` bit for bit, and saves the three side by
side with matplotlib (the ``bench`` extra).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import scipy.ndimage as ndi

from sortnet.circuit.filters import rank_filter

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = ROOT / "diagrams" / "median-filter.png"


def synthetic(side: int = 192) -> np.ndarray:
    """A uint8 picture with smooth and sharp features.

    Examples
    --------
    >>> image = synthetic(64)
    >>> image.shape, image.dtype, int(image.min()) >= 0
    ((64, 64), dtype('uint8'), True)
    """
    y, x = np.mgrid[0:side, 0:side] / side
    image = 60 + 80 * x + 40 * y
    image[(x - 0.33) ** 2 + (y - 0.35) ** 2 < 0.04] = 230
    image[(abs(x - 0.72) < 0.14) & (abs(y - 0.3) < 0.14)] = 20
    stripes = (y > 0.62) & (y < 0.9) & (x > 0.15) & (x < 0.85)
    image[stripes & (np.floor(x * 24) % 2 == 0)] = 200
    return np.clip(image, 0, 255).astype(np.uint8)


def salt_and_pepper(image: np.ndarray, fraction: float, seed: int = 0) -> np.ndarray:
    """``image`` with ``fraction`` of its pixels set to 0 or 255 at random.

    Examples
    --------
    >>> noisy = salt_and_pepper(np.full((50, 50), 128, np.uint8), 0.2)
    >>> 0.1 < float(np.mean(noisy != 128)) < 0.3
    True
    """
    rng = np.random.default_rng(seed)
    noisy = image.copy()
    hit = rng.random(image.shape) < fraction
    noisy[hit] = rng.choice(np.array([0, 255], np.uint8), size=int(hit.sum()))
    return noisy


def main(argv: list[str] | None = None) -> int:
    """Draw and save the picture; print its path and size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else DEFAULT
    clean = synthetic()
    noisy = salt_and_pepper(clean, 0.2)
    filtered = rank_filter(noisy, 5)
    if not np.array_equal(filtered, ndi.median_filter(noisy, 5)):
        raise SystemExit("rank_filter differs from scipy.ndimage.median_filter")
    figure, axes = plt.subplots(1, 3, figsize=(7.5, 2.8), dpi=100)
    titles = ("picture", "20% salt and pepper", "sortnet.rank_filter, 5x5 median")
    for axis, image, title in zip(axes, (clean, noisy, filtered), titles, strict=True):
        axis.imshow(image, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        axis.set_title(title, fontsize=9)
        axis.axis("off")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    print(f"{path} ({path.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

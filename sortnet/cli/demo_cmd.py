"""``sortnet demo``: the whole pipeline on one network, end to end.

Builds a network, proves it by the 0-1 principle, sorts a random batch with the
circuit executor and compares with ``np.sort``, compiles it to an MLP, runs the
batch through the weights, prints the model summary and the worst error, writes
its diagrams to a folder, and ends with a short timing line against ``np.sort``.
Exit code 1 when any check fails.
"""

from __future__ import annotations

import argparse
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import sortnet
from sortnet.cli._common import nonnegative_int, positive_int
from sortnet.errors import SortnetError

DEFAULT_FAMILY = "odd-even-merge"
DEFAULT_N = 8
DEFAULT_ROWS = 100_000
DEFAULT_OUT = "sortnet-demo"
#: The demo keeps a few copies of the batch in memory; this keeps them under ~2 GB.
MAX_ROWS = 10_000_000


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="build, verify, sort, compile, draw and time one network",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument("--family", default=DEFAULT_FAMILY, help="network family (see 'list')")
    parser.add_argument("--n", type=positive_int, default=DEFAULT_N, help="number of wires")
    parser.add_argument(
        "--lowering", default="relu", choices=("abs", "relu", "residual"), help="MLP form"
    )
    parser.add_argument(
        "--rows",
        type=positive_int,
        default=DEFAULT_ROWS,
        help=f"rows in the random batch (at most {MAX_ROWS})",
    )
    parser.add_argument(
        "--seed", type=nonnegative_int, default=0, help="random seed of the batch (>= 0)"
    )
    parser.add_argument(
        "--out", default=DEFAULT_OUT, help=f"folder for the diagrams (default {DEFAULT_OUT}/)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import compilers  # the CLI is the one place sortnet reaches for compilers

    if args.rows > MAX_ROWS:
        raise SortnetError(f"--rows must be at most {MAX_ROWS}, got {args.rows}")
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise SortnetError(f"--out must be a folder, but {args.out!r} is a file")
    Path(args.out).mkdir(parents=True, exist_ok=True)  # an unusable --out fails before the work
    failures = 0
    net = sortnet.network(args.family, args.n)
    print(f"network   {net!r}")

    result = sortnet.verify(net)
    proof = "exhaustive 0-1 proof" if result.exhaustive else "randomized check (not a proof)"
    print(f"verify    {'sorts' if result.ok else 'FAILS'}: {proof}, {result.checked} patterns")
    failures += not result.ok

    X = _random_batch(args.rows, net.n, args.seed)
    reference = np.sort(X, axis=1)
    circuit_out = sortnet.sort(X, net)
    exact = np.array_equal(circuit_out, reference)
    print(f"circuit   {X.shape[0]} x {X.shape[1]} float32 rows: equal to np.sort: {exact}")
    failures += not exact

    model = compilers.compile(net, lowering=args.lowering)
    neural_out = model(X)
    worst = float(np.max(np.abs(neural_out - reference), initial=0.0))
    within = bool(
        np.all(np.abs(neural_out - reference) <= model.error_bound(X, np.float32)[:, None])
    )
    print(f"compiled  {model!r}")
    print(model.summary())
    print(f"neural    worst |model(X) - np.sort(X)| = {worst:.3g} (within stated bound: {within})")
    failures += not within

    written = _write_diagrams(net, model, Path(args.out))
    print(f"diagrams  {', '.join(str(path) for path in written)}")
    if shutil.which("dot") is None:
        print("          (DOT only: install graphviz for SVG, e.g. apt-get install graphviz)")

    timings = {
        "np.sort": _best_time(lambda: np.sort(X, axis=1)),
        "circuit": _best_time(lambda: sortnet.sort(X, net)),
        "neural": _best_time(lambda: model(X)),
    }
    base = timings["np.sort"]
    print(
        "bench     "
        + ", ".join(
            f"{name} {seconds * 1e3:.1f} ms ({base / seconds:.2f}x np.sort)"
            for name, seconds in timings.items()
        )
        + f" on {X.shape[0]} rows"
    )
    print("demo      " + ("all checks passed" if not failures else f"{failures} check(s) FAILED"))
    return 1 if failures else 0


def _random_batch(rows: int, n: int, seed: int) -> np.ndarray:
    """Float32 rows with ties, negatives and zeros: small integers, scaled."""
    rng = np.random.default_rng(seed)
    return (rng.integers(-50, 51, size=(rows, n)) * 0.25).astype(np.float32)


def _write_diagrams(net: sortnet.Network, model: object, folder: Path) -> list[Path]:
    image = ".svg" if shutil.which("dot") else ".dot"
    written = []
    for style, obj in (("graph", net), ("wires", net), ("layers", model)):
        try:
            drawing = sortnet.draw(obj, style=style)
        except SortnetError as error:  # e.g. graphviz python package missing
            print(f"diagrams  skipped {style}: {error}")
            continue
        folder.mkdir(parents=True, exist_ok=True)
        written.append(sortnet.save_drawing(drawing, folder / f"{style}{image}"))
    return written


def _best_time(work: Callable[[], object], repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best

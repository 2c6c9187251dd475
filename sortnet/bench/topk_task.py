"""Time ``sortnet.topk`` against ``np.argpartition`` + ``argsort`` in the same run.

Run as ``sortnet bench --task topk`` or ``python -m sortnet.bench.topk_task
[--rows 65536] [--repeats 7] [--cases 128:8 256:8 ...]``. For each ``n:k`` case, one
batch of float32 standard-normal rows; each timed call of the baseline

    part = np.argpartition(-X, k - 1, axis=1)[:, :k]   # the k largest, unordered
    order = np.argsort(-np.take_along_axis(X, part, 1), axis=1, kind="stable")
    indices = np.take_along_axis(part, order, 1)      # (and the values)

is paired with a call of ``sortnet.topk(X, k)`` just after it, so both sides of a ratio
see the same machine load. Ratios are baseline median / ``topk`` median (above 1:
``topk`` is faster). Also timed: the exact reference ``np.argsort(-X, kind="stable")``
(which ``topk`` must equal, ties included; checked every case) and ``torch.topk`` when
torch is installed (``torch.topk`` does not promise an order among ties). Exact means
equal to the stable reference, indices and values. The load average before and after is
printed: on a shared machine
it says how much the numbers can be trusted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from sortnet.circuit.topk import topk
from sortnet.circuit.topk_kernels import get_kernel, use_kernel
from sortnet.generators.topk import topk_network

#: The default ``n:k`` cases (MoE routers pick 8 of 128 or 256; retrieval k of a few hundred).
CASES = ("128:8", "256:8", "128:1", "128:32", "512:16", "1024:8", "1024:64")


def baseline(X: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.argpartition`` then ``argsort`` of the ``k`` kept: values and indices, largest first.

    Examples
    --------
    >>> baseline(np.array([[1.0, 5.0, 3.0]], np.float32), 2)[1]
    array([[1, 2]])
    """
    part = np.argpartition(-X, k - 1, axis=1)[:, :k]
    kept = np.take_along_axis(X, part, axis=1)
    order = np.argsort(-kept, axis=1, kind="stable")
    return np.take_along_axis(kept, order, axis=1), np.take_along_axis(part, order, axis=1)


def _time(function: Callable[[], Any]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def run_case(X: np.ndarray, k: int, repeats: int) -> dict[str, Any]:
    """Paired timings of one case; medians in seconds and the exactness checks."""
    reference = np.argsort(-X, axis=1, kind="stable")[:, :k]
    values, indices = topk(X, k)  # warm-up (and the network build, cached after)
    exact = np.array_equal(indices, reference) and np.array_equal(
        values, np.take_along_axis(X, reference, axis=1)
    )
    baseline_exact = np.array_equal(baseline(X, k)[1], reference)
    base, ours, full = [], [], []
    for _ in range(repeats):
        base.append(_time(lambda: baseline(X, k)))
        ours.append(_time(lambda: topk(X, k)))
    for _ in range(max(1, repeats // 3)):
        full.append(_time(lambda: np.argsort(-X, axis=1, kind="stable")[:, :k]))
    result = {
        "baseline_s": statistics.median(base),
        "topk_s": statistics.median(ours),
        "argsort_s": statistics.median(full),
        "exact": exact,
        "baseline_exact": baseline_exact,
        "torch_s": None,
        "torch_exact": None,
    }
    try:
        import torch
    except ImportError:
        return result
    tensor = torch.from_numpy(X)
    result["torch_exact"] = np.array_equal(torch.topk(tensor, k, dim=1).indices.numpy(), reference)
    result["torch_s"] = statistics.median(
        _time(lambda: torch.topk(tensor, k, dim=1)) for _ in range(repeats)
    )
    return result


def main(argv: list[str] | None = None) -> int:
    """Print one line per case: times per row, the same-run ratio, exactness, the load.

    Returns 0, or 1 when ``topk`` differed from the stable reference in some case.
    """
    parser = argparse.ArgumentParser(prog="python -m sortnet.bench.topk_task")
    parser.add_argument("--rows", type=int, default=65536)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--cases", nargs="+", default=list(CASES), metavar="N:K")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    cases = [tuple(int(part) for part in case.split(":")) for case in args.cases]
    rng = np.random.default_rng(args.seed)
    print(f"load average before: {_load()}; {os.cpu_count()} CPUs; {args.rows} float32 rows")
    X0 = np.zeros((args.rows, 1), np.float32)
    if use_kernel(X0, size=args.rows * 128):
        start = time.perf_counter()
        get_kernel(32)
        print(f"kernel ready in {time.perf_counter() - start:.2f} s (compiled or loaded)")
    else:
        print("no compiled kernel (numba missing or SORTNET_KERNEL=numpy): the numpy path")
    head = "| k of n | comparators | argpartition+argsort us/row | topk us/row | ratio |"
    head += " stable argsort us/row | torch.topk us/row | exact: topk, baseline, torch |"
    print(head)
    print("|" + " --- |" * 8)
    exact = True
    for n, k in cases:
        X = rng.standard_normal((args.rows, n)).astype(np.float32)
        r = run_case(X, k, args.repeats)
        exact &= bool(r["exact"])
        per_row = 1e6 / args.rows
        torch_us = "-" if r["torch_s"] is None else f"{r['torch_s'] * per_row:.3f}"
        print(
            f"| {k} of {n} | {topk_network(n, k).size} | {r['baseline_s'] * per_row:.3f} "
            f"| {r['topk_s'] * per_row:.3f} | **{r['baseline_s'] / r['topk_s']:.2f}x** "
            f"| {r['argsort_s'] * per_row:.3f} | {torch_us} "
            f"| {_yes(r['exact'])}, {_yes(r['baseline_exact'])}, {_yes(r['torch_exact'])} |",
            flush=True,
        )
    print(f"load average after: {_load()}")
    return 0 if exact else 1


def _yes(flag: bool | None) -> str:
    return "-" if flag is None else ("yes" if flag else "no")


def _load() -> str:
    try:
        return ", ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


if __name__ == "__main__":
    raise SystemExit(main())

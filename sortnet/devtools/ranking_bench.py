"""Ranking supervision: sortnet's soft permutation against diffsort 0.2.0 (needs torch).

Run as ``python -m sortnet.devtools.ranking_bench [--out DIR]`` (tens of minutes on two
cores; ``--smoke`` runs a few steps in seconds). Needs ``torch``, ``scikit-learn`` and
``diffsort==0.2.0`` (none of them a dependency of sortnet).

The experiment has the shape of Petersen et al. (ICML 2021, diffsort's ``experiments/``),
offline and smaller:

* **data**: numbers of :data:`DIGITS` handwritten digits side by side, built from
  ``sklearn.datasets.load_digits`` (1797 8x8 images). The images are split once
  (seeded, stratified by digit) into train/validation/test pools (60/20/20), so test
  numbers are drawn with digit images never seen in training. A sample is a set of
  ``n`` distinct numbers; training sets are drawn afresh each step from the train
  pool, validation and test sets are fixed.
* **model**: the same small CNN maps each image to one score; the only supervision is
  the order of the ``n`` numbers of a set, through the loss between the sorting
  layer's soft permutation matrix and the true one (binary cross-entropy, as diffsort;
  the straight-through variant, whose forward matrix is an exact 0/1 permutation,
  uses squared error because the cross-entropy of exact 0/1 entries has infinite
  gradients).
* **methods**: sortnet smooth (the best-known network for ``n``, logistic ``p``;
  steepness chosen on validation from :data:`STEEPNESS_GRID` with seed 0), sortnet
  straight-through (same network; forward the exact 0/1 permutation matrix, backward
  the smooth relaxation's Jacobian; steepness chosen the same way), diffsort
  ``DiffSortNet`` with ``odd_even`` and ``bitonic`` (its default
  Cauchy relaxation, steepness from its README: 10 for ``odd_even``, 20 for
  ``bitonic``). Same network, optimizer (Adam), learning rate, steps, batch and seeds.
* **metrics** (test set): exact match (the whole ranking right) and element-wise
  (fraction of ranks right), mean and standard deviation over the seeds.

The sorting-layer measurement (:func:`layer_cost`) times one forward + backward of the
sorting layer alone (upstream gradient a fixed random ``n x n`` tensor) at ``n = 16,
256, 1024`` and reads its peak memory as the growth of the process's resident set
high-water mark (``/proc/self/status`` ``VmHWM`` after resetting it through
``/proc/self/clear_refs``), each measure in a fresh subprocess, one torch thread
(Linux only).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

#: Digits per number.
DIGITS = 2
#: Steepness candidates of the sortnet methods (chosen on validation).
STEEPNESS_GRID = (2.0, 8.0, 32.0)
#: diffsort's steepness per network type (its README: odd_even n=5 s=10, bitonic n=16 s=20).
DIFFSORT_STEEPNESS = {"odd_even": 10.0, "bitonic": 20.0}
#: Full-run settings (``--smoke`` shrinks them).
FULL = {
    "ns": (3, 5, 7, 9, 15),
    "steps": 600,
    "batch": 32,
    "seeds": (0, 1, 2),
    "lr": 1e-3,
    "val_sets": 200,
    "test_sets": 500,
}
SMOKE = {
    "ns": (3,),
    "steps": 3,
    "batch": 4,
    "seeds": (0,),
    "lr": 1e-3,
    "val_sets": 8,
    "test_sets": 8,
}
#: Sorting-layer cases: (n, batch).
LAYER_CASES = ((16, 100), (256, 10), (1024, 1))
METHODS = ("sortnet", "sortnet-st", "diffsort-odd_even", "diffsort-bitonic")


# -- data ----------------------------------------------------------------------------
def digit_pools(seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Train/validation/test pools of ``(images, labels)`` from ``load_digits`` (60/20/20)."""
    from sklearn.datasets import load_digits

    data = load_digits()
    images = (data.images / 16.0).astype(np.float32)
    labels = data.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for digit in range(10):
        index = rng.permutation(np.flatnonzero(labels == digit))
        a, b = int(0.6 * len(index)), int(0.8 * len(index))
        parts["train"].append(index[:a])
        parts["val"].append(index[a:b])
        parts["test"].append(index[b:])
    return {k: (images[np.concatenate(v)], labels[np.concatenate(v)]) for k, v in parts.items()}


def make_sets(
    pool: tuple[np.ndarray, np.ndarray], sets: int, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``sets`` sets of ``n`` distinct ``DIGITS``-digit numbers: images and values.

    Returns images ``(sets, n, 8, 8 * DIGITS)`` and values ``(sets, n)``.

    Examples
    --------
    >>> pool = (np.arange(10)[:, None, None] * np.ones((10, 8, 8)), np.arange(10))
    >>> images, values = make_sets(pool, 2, 5, np.random.default_rng(0))
    >>> images.shape, values.shape, len(set(values[0]))
    ((2, 5, 8, 16), (2, 5), 5)
    >>> bool((images[..., 0, 0] == values // 10).all() and (images[..., 0, 8] == values % 10).all())
    True
    """
    images, labels = pool
    by_digit = [np.flatnonzero(labels == d) for d in range(10)]
    values = np.stack([rng.choice(10**DIGITS, size=n, replace=False) for _ in range(sets)])
    out = np.empty((sets, n, 8, 8 * DIGITS), dtype=np.float32)
    for position in range(DIGITS):
        digit = values // 10 ** (DIGITS - 1 - position) % 10
        pick = np.array([rng.choice(by_digit[d]) for d in digit.ravel()]).reshape(digit.shape)
        out[:, :, :, 8 * position : 8 * (position + 1)] = images[pick]
    return out, values


# -- model and sorting layers --------------------------------------------------------
def scorer(torch: Any) -> Any:
    """The small CNN: an ``8 x 8k`` image to one score."""
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 2 * 2 * DIGITS, 64),
        nn.ReLU(),
        nn.Linear(64, 1),
    )


def sorting_layer(
    method: str,
    n: int,
    steepness: float | None,
    network: str = "best",
    checkpoint: int | str | None = None,
) -> Any:
    """``scores (batch, n) -> P (batch, position, input)`` for ``method``."""
    if method.startswith("diffsort"):
        from diffsort import DiffSortNet

        kind = method.split("-", 1)[1]
        sorter = DiffSortNet(kind, n, steepness=DIFFSORT_STEEPNESS[kind])
        return lambda scores: sorter(scores)[1].transpose(-2, -1)  # its P is (input, position)
    from sortnet.generators import network as build
    from sortnet.nn.torch_soft import SoftSort

    assert steepness is not None
    net = build(network, n)
    soft = SoftSort(net, steepness, checkpoint=checkpoint)
    if method != "sortnet-st":
        return lambda scores: soft(scores)[0]
    hard = SoftSort(net, steepness, straight_through=True)

    def straight_through(scores: Any) -> Any:
        # the exact permutation matrix forward, the smooth relaxation's Jacobian backward
        P = soft(scores)[0]
        return hard(scores.detach())[0] + (P - P.detach())

    return straight_through


def _true_permutation(torch: Any, values: Any) -> Any:
    order = torch.argsort(values, dim=-1)
    return torch.nn.functional.one_hot(order, values.shape[-1]).to(torch.float32)


def _metrics(torch: Any, scores: Any, values: Any) -> tuple[float, float]:
    same = torch.argsort(scores, dim=-1) == torch.argsort(values, dim=-1)
    return float(same.all(dim=-1).float().mean()), float(same.float().mean())


def train(
    method: str,
    n: int,
    seed: int,
    steepness: float | None,
    settings: dict[str, Any],
    pools: dict[str, Any],
    evaluate_on: tuple[str, ...] = ("val", "test"),
) -> dict[str, Any]:
    """Train the scorer with ``method``; return metrics and the mean step time."""
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(1000 + seed)
    model = scorer(torch)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings["lr"])
    sort = sorting_layer(method, n, steepness)
    batch = settings["batch"]
    started = time.perf_counter()
    for _ in range(settings["steps"]):
        images, values = make_sets(pools["train"], batch, n, rng)
        scores = model(torch.from_numpy(images).reshape(-1, 1, 8, 8 * DIGITS)).reshape(batch, n)
        P = sort(scores)
        target = _true_permutation(torch, torch.from_numpy(values))
        if method == "sortnet-st":
            loss = (P - target).square().mean()
        else:
            loss = torch.nn.functional.binary_cross_entropy(P.clamp(0, 1), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    step_time = (time.perf_counter() - started) / max(1, settings["steps"])
    result: dict[str, Any] = {"method": method, "n": n, "seed": seed, "steepness": steepness}
    result["step_s"] = step_time
    with torch.no_grad():
        for split in evaluate_on:
            sets = settings[f"{split}_sets"]
            images, values = make_sets(pools[split], sets, n, np.random.default_rng(7 + n))
            scores = model(torch.from_numpy(images).reshape(-1, 1, 8, 8 * DIGITS))
            exact, element = _metrics(torch, scores.reshape(sets, n), torch.from_numpy(values))
            result[f"{split}_exact"], result[f"{split}_element"] = exact, element
    return result


def accuracy_table(settings: dict[str, Any], log: Any = print) -> list[dict[str, Any]]:
    """Every method at every ``n``: test exact-match and element-wise accuracy over seeds."""
    pools = digit_pools()
    rows = []
    for n in settings["ns"]:
        for method in settings.get("methods", METHODS):
            runs = []
            chosen = None
            if method.startswith("sortnet"):
                candidates = [
                    train(method, n, settings["seeds"][0], beta, settings, pools)
                    for beta in STEEPNESS_GRID
                ]
                best = max(candidates, key=lambda r: (r["val_exact"], r["val_element"]))
                chosen = best["steepness"]
                runs.append(best)
                log(
                    f"n={n} {method}: val exact "
                    + ", ".join(
                        f"beta={r['steepness']:g}: {r['val_exact']:.3f}" for r in candidates
                    )
                    + f" -> beta={chosen:g}"
                )
                seeds = settings["seeds"][1:]
            else:
                seeds = settings["seeds"]
            runs += [train(method, n, seed, chosen, settings, pools) for seed in seeds]
            exact = np.array([r["test_exact"] for r in runs])
            element = np.array([r["test_element"] for r in runs])
            row = {
                "n": n,
                "method": method,
                "steepness": chosen
                if chosen is not None
                else DIFFSORT_STEEPNESS[method.split("-", 1)[1]],
                "exact_mean": float(exact.mean()),
                "exact_std": float(exact.std()),
                "element_mean": float(element.mean()),
                "element_std": float(element.std()),
                "step_s": float(np.mean([r["step_s"] for r in runs])),
                "runs": runs,
            }
            log(
                f"n={n:>2} {method:18} exact {row['exact_mean']:.3f} ± {row['exact_std']:.3f}  "
                f"element {row['element_mean']:.3f} ± {row['element_std']:.3f}  "
                f"{1e3 * row['step_s']:.1f} ms/step"
            )
            rows.append(row)
    return rows


# -- sorting-layer cost --------------------------------------------------------------
def _status(key: str) -> int:
    text = Path("/proc/self/status").read_text()
    match = re.search(rf"{key}:\s+(\d+) kB", text)
    return int(match.group(1)) * 1024 if match else 0


def _layer_case(method: str, n: int, batch: int, gen: Any) -> tuple[Any, Any, Any, str]:
    """The sorting layer of ``method`` at ``n``, its input and upstream gradient."""
    import torch

    network = "best" if n <= 64 else "bitonic"
    kind, checkpoint = method, None
    if method.endswith("-bitonic") and method.startswith("sortnet"):
        network, kind = "bitonic", method.replace("-bitonic", "")
    if kind == "sortnet-lowmem":
        kind, checkpoint = "sortnet", "recompute"
    if method.startswith("diffsort"):
        network = method.split("-", 1)[1]
    sort = sorting_layer(kind, n, 8.0, network=network, checkpoint=checkpoint)
    x = torch.randn(batch, n, generator=gen, requires_grad=True)
    return sort, x, torch.randn(batch, n, n, generator=gen), network


def _step(sort: Any, x: Any, G: Any) -> float:
    started = time.perf_counter()
    sort(x).backward(G)
    x.grad = None
    return time.perf_counter() - started


def layer_cost(methods: list[str], n: int, batch: int, measure: str) -> list[dict[str, Any]]:
    """Time (``measure="time"``) or peak memory (``"memory"``) of sorting layers' steps.

    One step is a forward and a backward pass of the sorting layer alone, upstream
    gradient a fixed random ``(batch, n, n)`` tensor made beforehand (``P.backward(G)``),
    one torch thread. ``sortnet-lowmem-*`` is ``checkpoint="recompute"``. Call it in a
    fresh process (:func:`layer_costs` does). Memory (one method per process): one
    warm-up step at ``n = 4`` (loads lazy code), then the growth of the resident
    high-water mark (reset through ``/proc/self/clear_refs``) during one step; the
    caller sets ``MALLOC_MMAP_THRESHOLD_`` so glibc returns freed blocks and keeps no
    stale pages. Time: one warm-up step per method, then 3 rounds that run every
    method once each, in turn (so all see the same machine load); the median per method.
    """
    import torch

    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(0)
    if measure == "memory":
        (method,) = methods
        sort, x, G, _ = _layer_case(method, 4, 1, gen)
        _step(sort, x, G)
        sort, x, G, network = _layer_case(method, n, batch, gen)
        Path("/proc/self/clear_refs").write_text("5")
        before = _status("VmRSS")
        _step(sort, x, G)
        peak = _status("VmHWM") - before
        return [{"method": method, "n": n, "batch": batch, "network": network, "peak_bytes": peak}]
    cases = {method: _layer_case(method, n, batch, gen) for method in methods}
    times: dict[str, list[float]] = {method: [] for method in methods}
    for sort, x, G, _ in cases.values():
        _step(sort, x, G)
    for _ in range(3):
        for method, (sort, x, G, _) in cases.items():
            times[method].append(_step(sort, x, G))
    return [
        {"method": m, "n": n, "batch": batch, "network": cases[m][3], "step_s": np.median(t)}
        for m, t in times.items()
    ]


def _run_layer(args: list[str], memory: bool, timeout: float) -> list[dict[str, Any]]:
    command = [sys.executable, "-m", "sortnet.devtools.ranking_bench", "--layer", *args]
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    if memory:
        env["MALLOC_MMAP_THRESHOLD_"] = "131072"
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, env=env, check=True
    )
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


def layer_costs(
    cases: tuple[tuple[int, int], ...] = LAYER_CASES,
    methods: tuple[str, ...] | None = None,
    log: Any = print,
    timeout: float = 3600,
) -> list[dict[str, Any]]:
    """:func:`layer_cost` at every case: one timing process, one memory process per method."""
    rows = []
    for n, batch in cases:
        names = methods or (
            "sortnet-bitonic",
            "sortnet-lowmem-bitonic",
            "sortnet-st-bitonic",
            "diffsort-bitonic",
        )
        if methods is None and n <= 64:
            names += ("sortnet", "diffsort-odd_even")
        found: dict[str, dict[str, Any]] = {m: {"method": m, "n": n, "batch": batch} for m in names}
        jobs = [([",".join(names), str(n), str(batch), "time"], False)]
        jobs += [([m, str(n), str(batch), "memory"], True) for m in names]
        for args, memory in jobs:
            try:
                for row in _run_layer(args, memory, timeout):
                    found[row["method"]].update(row)
            except (subprocess.SubprocessError, ValueError, IndexError) as error:
                for m in args[0].split(","):
                    found[m]["error"] = str(error)[-300:]
        for row in found.values():
            log(json.dumps(row))
            rows.append(row)
    return rows


# -- report --------------------------------------------------------------------------
def markdown(report: dict[str, Any]) -> str:
    """The README tables."""
    lines = ["| n | method | steepness | exact match | element-wise | ms/step (whole step) |"]
    lines.append("| --- | --- | --- | --- | --- | --- |")
    for row in report["accuracy"]:
        lines.append(
            f"| {row['n']} | {row['method']} | {row['steepness']:g} | "
            f"{row['exact_mean']:.3f} ± {row['exact_std']:.3f} | "
            f"{row['element_mean']:.3f} ± {row['element_std']:.3f} | {1e3 * row['step_s']:.1f} |"
        )
    lines += ["", "| n | batch | method | network | ms per step | peak memory (MB) |"]
    lines.append("| --- | --- | --- | --- | --- | --- |")
    for row in report["speed"]:
        if "error" in row or "step_s" not in row or "peak_bytes" not in row:
            lines.append(f"| {row['n']} | {row['batch']} | {row['method']} | | failed | |")
            continue
        peak = f"{row['peak_bytes'] / 2**20:.1f}"
        lines.append(
            f"| {row['n']} | {row['batch']} | {row['method']} | {row['network']} | "
            f"{1e3 * row['step_s']:.1f} | {peak} |"
        )
    return "\n".join(lines)


def plot(report: dict[str, Any], path: Path) -> None:
    """Exact-match accuracy against ``n``, one line per method (error bars: std over seeds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axis = plt.subplots(figsize=(6, 4))
    for method in METHODS:
        rows = [r for r in report["accuracy"] if r["method"] == method]
        if rows:
            axis.errorbar(
                [r["n"] for r in rows],
                [r["exact_mean"] for r in rows],
                yerr=[r["exact_std"] for r in rows],
                marker="o",
                capsize=3,
                label=method,
            )
    axis.set_xlabel("n (numbers per set)")
    axis.set_ylabel("test exact-match accuracy")
    axis.set_title("Ranking supervision, load_digits numbers")
    axis.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; write ``ranking.json``, ``ranking.md`` and ``ranking.png``."""
    parser = argparse.ArgumentParser(prog="python -m sortnet.devtools.ranking_bench")
    parser.add_argument("--smoke", action="store_true", help="a few steps, for the tests")
    parser.add_argument("--out", default="diagrams", help="directory for the outputs")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--steps", type=int, help="override the training steps")
    parser.add_argument("--methods", nargs="+", choices=METHODS, help="only these methods")
    parser.add_argument("--ns", nargs="+", type=int, help="only these n")
    parser.add_argument("--layer", nargs=4, help=argparse.SUPPRESS)  # METHOD N BATCH MEASURE
    args = parser.parse_args(argv)
    if args.layer:
        methods, n, batch, measure = args.layer
        found = layer_cost(methods.split(","), int(n), int(batch), measure)
        print(json.dumps(found))
        return {"speed": found}
    import torch

    torch.set_num_threads(1)
    settings = dict(SMOKE if args.smoke else FULL)
    if args.steps:
        settings["steps"] = args.steps
    if args.methods:
        settings["methods"] = tuple(args.methods)
    if args.ns:
        settings["ns"] = tuple(args.ns)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()
    report: dict[str, Any] = {"settings": settings, "load_before": load}
    report["accuracy"] = [] if args.skip_accuracy else accuracy_table(settings)
    if args.skip_speed:
        report["speed"] = []
    elif args.smoke:
        report["speed"] = layer_costs(((16, 4),), ("sortnet-bitonic", "diffsort-bitonic"))
    else:
        report["speed"] = layer_costs()
    report["load_after"] = os.getloadavg()
    stem = "ranking_smoke" if args.smoke else "ranking"
    (out / f"{stem}.json").write_text(json.dumps(report, indent=1))
    (out / f"{stem}.md").write_text(markdown(report) + "\n")
    if report["accuracy"] and not args.smoke:
        plot(report, out / f"{stem}.png")
    print(markdown(report))
    print(f"load average before {load}, after {report['load_after']}")
    return report


if __name__ == "__main__":
    main()

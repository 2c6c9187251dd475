"""Learned versus compiled: can gradient descent find the compiled sorter's weights?

Run as ``python -m sortnet.devtools.learned_vs_compiled [--out diagrams]`` (needs torch
and matplotlib; a few minutes on one core). For ``n = 4`` and ``8`` it compiles the
best-known network with the ``relu`` lowering, takes its architecture exactly (layer
widths and per-unit activations, via :meth:`CompiledModel.to_torch`), re-initialises
every weight and bias at random (PyTorch's ``nn.Linear`` default:
``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``) and trains it with Adam (the optimizer of
:mod:`sortnet.devtools.ranking_bench`) on fresh random rows (standard normal) to
minimise the squared error against ``np.sort``. It reports, on a fixed test set of
rows, the largest absolute error and the fraction of rows **sorted** (every output
is nearer to the right sorted value than to any other input value) for the learned
nets (three seeds) and for the compiled weights, and draws the training curves in
``learned_vs_compiled.png``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

#: Full-run settings.
FULL = {"ns": (4, 8), "steps": 10000, "batch": 256, "lr": 1e-3, "seeds": (0, 1, 2), "test": 10000}
#: How many evaluations the curve has.
POINTS = 40


def compiled_module(n: int) -> tuple[Any, Any]:
    """The compiled ``relu`` model of the best-known network for ``n`` and its torch module."""
    import torch

    import compilers
    from sortnet.generators import network

    model = compilers.compile(network("best", n), "relu")
    return model, model.to_torch(dtype=torch.float32, sparse=False)


def reinitialise(module: Any, seed: int) -> Any:
    """Every weight and bias drawn afresh, as ``nn.Linear`` would (same architecture)."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in module.layers:
            for name in layer.sparse:
                weight = getattr(layer, name)
                bound = 1 / math.sqrt(weight.shape[1])
                weight.uniform_(-bound, bound, generator=generator)
            bound = 1 / math.sqrt(layer.weight.shape[1])
            layer.bias.uniform_(-bound, bound, generator=generator)
    return module


def quality(module: Any, X: np.ndarray) -> dict[str, float]:
    """Largest absolute error against ``np.sort`` and the fraction of rows sorted."""
    import torch

    with torch.no_grad():
        Y = module(torch.from_numpy(X)).numpy().astype(np.float64)
    S = np.sort(X.astype(np.float64), axis=1)
    error = np.abs(Y - S)
    # output p is "right" when it is nearer to S[p] than to every other input value
    distance = np.abs(Y[:, :, None] - S[:, None, :])
    nearest = distance.argmin(axis=2)
    right = nearest == np.arange(X.shape[1])
    return {
        "max_error": float(error.max()),
        "mean_error": float(error.mean()),
        "rows_sorted": float(right.all(axis=1).mean()),
    }


def learn(n: int, seed: int, settings: dict[str, Any], X_test: np.ndarray) -> dict[str, Any]:
    """Train the compiled architecture from random weights; the curve and final quality."""
    import torch

    torch.manual_seed(seed)
    _, module = compiled_module(n)
    module = reinitialise(module, seed)
    optimizer = torch.optim.Adam(module.parameters(), lr=settings["lr"])
    rng = np.random.default_rng(100 + seed)
    every = max(1, settings["steps"] // POINTS)
    curve = []
    started = time.perf_counter()
    for step in range(1, settings["steps"] + 1):
        X = rng.standard_normal((settings["batch"], n)).astype(np.float32)
        target = torch.from_numpy(np.sort(X, axis=1))
        loss = (module(torch.from_numpy(X)) - target).square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % every == 0 or step == settings["steps"]:
            curve.append({"step": step, "loss": loss.item(), **quality(module, X_test)})
    return {
        "n": n,
        "seed": seed,
        "seconds": time.perf_counter() - started,
        "final": curve[-1],
        "curve": curve,
    }


def plot(report: dict[str, Any], path: Path) -> None:
    """Max error and fraction of rows sorted against training steps, per n and seed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    colours = {4: "tab:blue", 8: "tab:red"}
    for run in report["learned"]:
        steps = [point["step"] for point in run["curve"]]
        colour = colours.get(run["n"], "k")
        label = f"learned n={run['n']}" if run["seed"] == 0 else None
        axes[0].plot(steps, [p["max_error"] for p in run["curve"]], color=colour, label=label)
        axes[1].plot(steps, [p["rows_sorted"] for p in run["curve"]], color=colour, label=label)
    for n, compiled in report["compiled"].items():
        colour = colours.get(int(n), "k")
        axes[0].axhline(
            max(compiled["max_error"], 1e-9), color=colour, ls="--", label=f"compiled n={n}"
        )
        axes[1].axhline(compiled["rows_sorted"], color=colour, ls="--", label=f"compiled n={n}")
    axes[0].set_yscale("log")
    axes[0].set_ylabel("max |y - sort(x)| on 10k test rows")
    axes[1].set_ylabel("fraction of test rows sorted")
    for axis in axes:
        axis.set_xlabel("training step (Adam, batch 256)")
        axis.legend(fontsize=8)
    fig.suptitle("Same architecture: trained from random init (solid) vs compiled (dashed)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run it; write ``learned_vs_compiled.json`` and ``.png`` into ``--out``."""
    parser = argparse.ArgumentParser(prog="python -m sortnet.devtools.learned_vs_compiled")
    parser.add_argument("--out", default="diagrams")
    parser.add_argument("--steps", type=int, default=FULL["steps"])
    parser.add_argument("--no-plot", action="store_true")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    settings = dict(FULL, steps=args.steps)
    report: dict[str, Any] = {"settings": settings, "load_before": os.getloadavg()}
    report["compiled"], report["learned"] = {}, []
    for n in settings["ns"]:
        X_test = np.random.default_rng(9).standard_normal((settings["test"], n)).astype(np.float32)
        model, module = compiled_module(n)
        report["compiled"][str(n)] = {"parameters": model.parameters, **quality(module, X_test)}
        for seed in settings["seeds"]:
            run = learn(n, seed, settings, X_test)
            report["learned"].append(run)
            final = run["final"]
            print(
                f"n={n} seed={seed}: max error {final['max_error']:.3g}, "
                f"rows sorted {final['rows_sorted']:.3f} ({run['seconds']:.0f} s)"
            )
        print(f"n={n} compiled: {report['compiled'][str(n)]}")
    report["load_after"] = os.getloadavg()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "learned_vs_compiled.json").write_text(json.dumps(report, indent=1))
    if not args.no_plot:
        plot(report, out / "learned_vs_compiled.png")
    return report


if __name__ == "__main__":
    main()

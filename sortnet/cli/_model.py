"""The model-file branches of ``sortnet verify --model`` and ``sortnet info MODEL``."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from sortnet.nn.checks import verify_model
from sortnet.nn.model import load_model


def is_model_file(path: str) -> bool:
    """True for a path naming a ``.npz`` model file (by suffix)."""
    return path.lower().endswith(".npz")


def verify_models(
    paths: Sequence[str],
    *,
    as_json: bool,
    seed: int | None = None,
    allow_missing_digest: bool = False,
) -> int:
    """Check each model through its weights; exit code 0 if all pass, 1 otherwise."""
    records = []
    for path in paths:
        model = load_model(path, allow_missing_digest=allow_missing_digest)
        start = time.perf_counter()
        check = verify_model(model, seed=0 if seed is None else seed)
        record = {"model": path, "n": model.n, **check.to_dict()}
        record["seconds"] = round(time.perf_counter() - start, 3)
        records.append(record)
        if not as_json:
            verdict = "exact within its contract" if check.ok else "FAILS"
            zero_one = f"all 2^{model.n} 0-1 inputs + " if check.exhaustive else ""
            print(
                f"{path}: {verdict} ({zero_one}adversarial batches, {check.rows} rows) "
                f"worst error {check.worst_error:.3g} x max|x| in {record['seconds']:.2f}s"
            )
            for name in check.failures:
                print(f"  failed: {name} (worst error {check.worst[name]:.3g} x max|x|)")
    if as_json:
        print(json.dumps(records[0] if len(records) == 1 else records))
    return 0 if all(record["ok"] for record in records) else 1


def model_info(path: str, *, allow_missing_digest: bool = False) -> dict[str, Any]:
    """The ``info`` description of a model file."""
    from sortnet.cli.compile_cmd import model_description

    model = load_model(path, allow_missing_digest=allow_missing_digest)
    return {"model": path, **model_description(model)}


def print_model_info(path: str, *, as_json: bool, allow_missing_digest: bool = False) -> int:
    """Print a model's description (summary table, or JSON); exit code 0."""
    if as_json:
        print(json.dumps(model_info(path, allow_missing_digest=allow_missing_digest)))
    else:
        print(load_model(path, allow_missing_digest=allow_missing_digest).summary())
    return 0

"""Check a compiled model through its weights: 0-1 inputs and adversarial batches.

:func:`verify_model` runs the neural executor on every 0-1 input (when ``n`` is
small enough) and on batches built to break it (ties, negatives, zeros, large
magnitudes, integers at the exactness limit, random floats) in float32 and
float64, and compares with ``np.sort``. Exact batches must match bit for bit;
float batches must stay within the model's stated error bound.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sortnet.errors import InputError, SortnetError
from sortnet.nn.model import CompiledModel

#: Largest n whose 2**n 0-1 inputs are all checked.
EXHAUSTIVE_MAX_N = 20


@dataclass
class ModelCheck:
    """Result of :func:`verify_model`.

    ``ok`` is True when every exact batch matched ``np.sort`` bit for bit and every
    float batch stayed within :meth:`CompiledModel.error_bound`. ``worst`` maps each
    batch name to its largest error relative to the row's largest magnitude
    (``|y - sorted| / max|x|``); ``failures`` names the failing batches.
    """

    ok: bool
    rows: int
    exhaustive: bool
    worst_error: float  # relative to max|x| of the row
    worst: dict[str, float] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "ok": self.ok,
            "rows": self.rows,
            "exhaustive_zero_one": self.exhaustive,
            "worst_error": self.worst_error,
            "worst": self.worst,
            "failures": self.failures,
        }


def expected_output(model: CompiledModel, X: np.ndarray) -> np.ndarray:
    """What ``model(X)`` must equal: sorted rows (reversed if descending), or column k."""
    Y = np.sort(X, axis=1)
    if model.k is not None:
        return Y[:, model.k - 1 : model.k]
    if model.metadata.get("source", {}).get("descending"):
        return Y[:, ::-1]
    return Y


def _zero_one(n: int, block: int = 1 << 15) -> Iterator[np.ndarray]:
    bits = np.arange(n, dtype=np.int64)
    for start in range(0, 1 << n, block):
        codes = np.arange(start, min(start + block, 1 << n), dtype=np.int64)
        yield ((codes[:, None] >> bits) & 1).astype(np.float64)


def _batches(
    model: CompiledModel, dtype: Any, rows: int, rng: np.random.Generator
) -> Iterator[tuple[str, np.ndarray, bool]]:
    """(name, batch, exact?) adversarial batches for one dtype."""
    n = model.n
    p = np.finfo(dtype).nmant + 1
    cap = np.inf if model.bound is None else float(np.dtype(dtype).type(model.bound))
    limit = min(2.0 ** (p - 2) - 1, np.floor(cap))  # largest integer of the exactness contract
    top = min(float(np.finfo(dtype).max) / 128, cap)
    small = min(1000.0, np.floor(cap))
    yield "ties", rng.integers(-2, 3, (rows, n)).astype(dtype), True
    yield "integers", rng.integers(-small, small + 1, (rows, n)).astype(dtype), True
    edge = rng.choice([-limit, -limit + 1, -1.0, 0.0, 1.0, limit - 1, limit], size=(rows, n))
    yield f"integers near +-2^{p - 2}", edge.astype(dtype), True
    exact_floats = model.lowering == "counting"
    normal = np.clip(rng.standard_normal((rows, n)), -top, top)
    yield "normal floats", normal.astype(dtype), exact_floats
    scale = rng.choice([1e-30, 1e-3, min(1.0, top), min(1e6, top), top / 4], size=(rows, 1))
    mixed = (rng.uniform(-1, 1, (rows, n)) * scale).astype(dtype)
    mixed[rng.random((rows, n)) < 0.2] = 0
    yield "mixed magnitudes, zeros", mixed, exact_floats
    big = rng.choice([-top, -top / 2, top / 2, top], size=(rows, n)).astype(dtype)
    yield "+-large", big, exact_floats


def verify_model(model: CompiledModel, *, rows: int = 20000, seed: int = 0) -> ModelCheck:
    """Run 0-1 inputs (``n <= 20``) and adversarial batches through ``model``'s weights.

    Examples
    --------
    >>> import compilers, sortnet
    >>> check = verify_model(compilers.compile(sortnet.network("bitonic", 4)), rows=500)
    >>> check.ok, check.exhaustive, check.worst["0-1 inputs"]
    (True, True, 0.0)
    """
    if not isinstance(model, CompiledModel):
        raise SortnetError(f"verify_model needs a compiled model, got {type(model).__name__}")
    for name, value, low in (("rows", rows, 1), ("seed", seed, 0)):
        if isinstance(value, bool) or not hasattr(value, "__index__") or value < low:
            raise InputError(f"{name} must be an integer >= {low}, got {value!r}")
    rng = np.random.default_rng(seed)
    worst: dict[str, float] = {}
    failures: list[str] = []
    total = 0

    def record(name: str, X: np.ndarray, exact: bool, dtype: Any) -> None:
        nonlocal total
        Y = model(X, dtype=dtype)
        E = expected_output(model, X.astype(np.float64))
        error = np.abs(Y.astype(np.float64) - E)
        bound = 0.0 if exact else model.error_bound(X, dtype)[:, None]
        scale = np.maximum(np.abs(X.astype(np.float64)).max(axis=1, keepdims=True), 1e-300)
        relative = float((error / scale).max(initial=0.0))
        worst[name] = max(worst.get(name, 0.0), relative)
        if np.any(error > bound) and name not in failures:
            failures.append(name)
        total += len(X)

    exhaustive = model.n <= EXHAUSTIVE_MAX_N
    if exhaustive:
        for block in _zero_one(model.n):
            record("0-1 inputs", block, True, np.float64)
    for dtype in (np.float32, np.float64):
        for name, X, exact in _batches(model, dtype, rows, rng):
            record(f"{name} ({np.dtype(dtype).name})", X, exact, dtype)
    worst_error = max(worst.values(), default=0.0)
    return ModelCheck(not failures, total, exhaustive, worst_error, worst, failures)

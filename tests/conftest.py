"""Shared fixtures and helpers: the SorterHunter networks in ``tests/data``, kernel batches,
a private kernel cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SORTERHUNTER = Path(__file__).resolve().parent / "data" / "sorterhunter"


@pytest.fixture(scope="session")
def sorterhunter_dir() -> Path:
    """``tests/data/sorterhunter``: a few SorterHunter networks (see its README.md)."""
    return SORTERHUNTER


@pytest.fixture(scope="module")
def module_kernel_cache(tmp_path_factory: pytest.TempPathFactory) -> object:
    """An empty kernel cache and the default back end for one test module."""
    from sortnet import _jit

    patch = pytest.MonkeyPatch()
    patch.setenv(_jit.ENV_CACHE_DIR, str(tmp_path_factory.mktemp("kernels")))
    patch.delenv(_jit.ENV_BACKEND, raising=False)
    yield
    patch.undo()


#: Float values every kernel batch mixes in: both zeros, infinities, large magnitudes.
SPECIAL = [0.0, -0.0, 1.0, -1.0, 2.5, -2.5, 1e30, -1e30, np.inf, -np.inf]


def kernel_batch(dtype: str, n: int, rows: int, seed: int = 0) -> np.ndarray:
    """Rows for the kernel tests: repeated values, signed zeros, integer extremes."""
    rng = np.random.default_rng(seed)
    kind = np.dtype(dtype)
    if kind.kind == "f":
        values = np.concatenate([SPECIAL, rng.standard_normal(12), np.arange(-3.0, 4.0)])
        return rng.choice(values, size=(rows, n)).astype(kind)
    info = np.iinfo(kind)
    values = np.array([info.min, info.max, 0, 1, 2, 3, info.max // 2, max(info.min, -5)], kind)
    return rng.choice(values, size=(rows, n))

"""The dask engine: lazy sorting and model runs over row chunks."""

from __future__ import annotations

import numpy as np
import pytest

import sortnet
from sortnet import InputError, SortnetError, _jit

da = pytest.importorskip("dask.array")


@pytest.fixture(autouse=True)
def _kernel_cache(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(_jit.ENV_CACHE_DIR, str(tmp_path))


def rows(n: int, count: int = 250) -> np.ndarray:
    rng = np.random.default_rng(n)
    values = np.array([0.0, -0.0, 1.0, -1.0, 3.5, np.inf, -np.inf], np.float32)
    return np.where(
        rng.random((count, n)) < 0.5,
        rng.choice(values, (count, n)),
        rng.standard_normal((count, n)).astype(np.float32),
    )


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_sort_is_lazy_and_exact(backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if backend == "numba":
        pytest.importorskip("numba")
    monkeypatch.setenv(_jit.ENV_BACKEND, backend)
    net = sortnet.network("best", 9)
    X = rows(9)
    lazy = da.from_array(X, chunks=(60, 4))  # columns split: the engine must rechunk
    Y = sortnet.sort(lazy, net)
    assert isinstance(Y, da.Array) and Y.chunks == ((60, 60, 60, 60, 10), (9,))
    assert np.array_equal(Y.compute(), np.sort(X, axis=1))
    assert np.array_equal(
        sortnet.argsort(lazy, net).compute(), np.argsort(X, axis=1, kind="stable")
    )
    kth = sortnet.sort(lazy, net, k="median", chunk_rows=100)
    assert kth.chunks == ((100, 100, 50), (1,))
    assert np.array_equal(kth.compute()[:, 0], np.sort(X, axis=1)[:, 4])


def test_lazily_generated_batch() -> None:
    net = sortnet.network("bitonic", 16)
    X = da.random.default_rng(1).random((5000, 16), chunks=(1000, 16), dtype=np.float32)
    assert np.array_equal(sortnet.sort(X, net).compute(), np.sort(X.compute(), axis=1))


def test_compiled_model_on_dask_array() -> None:
    compilers = pytest.importorskip("compilers")
    net = sortnet.network("odd-even-merge", 6)
    model = compilers.compile(net, lowering="relu")
    X = np.random.default_rng(0).integers(-50, 50, (300, 6)).astype(np.float32)
    Y = model(da.from_array(X, chunks=(70, 3)))
    assert isinstance(Y, da.Array) and Y.dtype == np.float32
    assert np.array_equal(Y.compute(), model(X))
    assert np.array_equal(Y.compute(), np.sort(X, axis=1))


def test_errors() -> None:
    net = sortnet.network("bubble", 4)
    with pytest.raises(InputError, match="X has 3 columns but the network has n=4 wires"):
        sortnet.sort(da.zeros((5, 3)), net)
    with pytest.raises(InputError, match=r"X must have shape \(batch, n=4\)"):
        sortnet.sort(da.zeros(4), net)
    with pytest.raises(InputError, match="integer or floating dtype, got bool"):
        sortnet.sort(da.zeros((5, 4), dtype=bool), net)
    with pytest.raises(InputError, match="chunk_rows must be a positive integer, got 0"):
        sortnet.sort(da.zeros((5, 4)), net, chunk_rows=0)
    with pytest.raises(SortnetError, match="comparator networks only"):
        sortnet.sort(da.zeros((5, 3)), sortnet.counting_network(3))
    lazy = sortnet.sort(da.from_array(np.array([[1.0, np.nan, 0, 2]])), net)
    with pytest.raises(InputError, match="X contains NaN at row 0"):
        lazy.compute()

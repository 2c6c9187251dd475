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


def _model_pair() -> tuple[object, object]:
    """Two models with equal metadata whose weights differ (the second negates outputs)."""
    compilers = pytest.importorskip("compilers")
    from sortnet.nn.model import CompiledModel, Layer

    model = compilers.compile(sortnet.network("bubble", 3), lowering="relu")
    negate = Layer(-np.eye(3), np.zeros(3), ("identity",) * 3)
    other = CompiledModel([*model.layers, negate], model.metadata)
    assert other.metadata == model.metadata and other.digest != model.digest
    return model, other


def test_models_with_equal_metadata_get_distinct_tasks() -> None:
    import dask

    model, other = _model_pair()
    X = np.random.default_rng(2).integers(-9, 9, (40, 3)).astype(np.float64)
    lazy = da.from_array(X, chunks=10)
    first, second = dask.compute(model(lazy), other(lazy))  # type: ignore[operator]
    assert np.array_equal(first, np.sort(X, axis=1))
    assert np.array_equal(second, -np.sort(X, axis=1))
    assert model(lazy).name != other(lazy).name  # type: ignore[operator]


def test_task_keys_name_everything_that_changes_the_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Pin the baseline to numpy: in auto mode an already cached kernel would be chosen.
    monkeypatch.setenv(_jit.ENV_BACKEND, "numpy")
    net = sortnet.network("best", 4)
    reverse = sortnet.Network.from_comparators(4, list(reversed(net.comparators)))
    X = da.from_array(rows(4, 40), chunks=10)
    names = {
        "sort": sortnet.sort(X, net).name,
        "argsort": sortnet.argsort(X, net).name,
        "k=1": sortnet.sort(X, net, k=1).name,
        "k=2": sortnet.sort(X, net, k=2).name,
        "other comparators": sortnet.sort(X, reverse).name,
        "chunk_rows": sortnet.sort(X, net, chunk_rows=20).name,
        "float64": sortnet.sort(X.astype(np.float64), net).name,
    }
    pytest.importorskip("numba")
    monkeypatch.setenv(_jit.ENV_BACKEND, "numba")
    names["backend"] = sortnet.sort(X, net).name
    assert len(set(names.values())) == len(names), names
    # Equal inputs give equal keys: dask may share the work.
    assert sortnet.sort(X, net).name == names["backend"]


def test_errors_name_the_row_of_the_whole_array() -> None:
    net = sortnet.network("bubble", 4)
    X = np.zeros((100, 4))
    X[70, 2] = np.nan
    lazy = da.from_array(X, chunks=(50, 4))
    with pytest.raises(InputError, match="X contains NaN at row 70$"):
        sortnet.sort(lazy, net).compute()
    with pytest.raises(InputError, match="X contains NaN at row 70$"):
        sortnet.argsort(lazy, net, chunk_rows=30).compute()
    compilers = pytest.importorskip("compilers")
    model = compilers.compile(net, lowering="relu")
    with pytest.raises(InputError, match=r"X contains NaN at row 70, column 2"):
        model(lazy).compute()
    counting = compilers.compile(sortnet.counting_network(4))
    big = np.zeros((100, 4))
    big[70, 1] = 10 * counting.bound
    with pytest.raises(InputError, match=r"X\[70, 1\] = .* is outside the model's input bound"):
        counting(da.from_array(big, chunks=(50, 4))).compute()
    huge = np.zeros((100, 4))
    huge[70, 3] = 1e300
    with pytest.raises(InputError, match=r"X\[70, 3\] = 1e\+300 is outside the range of float32"):
        model(da.from_array(huge, chunks=(50, 4)), dtype=np.float32).compute()


def test_dask_argument_errors() -> None:
    net = sortnet.network("bubble", 4)
    X = da.zeros((5, 4))
    with pytest.raises(InputError, match="chunk_rows must be a positive integer, got 2.5"):
        sortnet.sort(X, net, chunk_rows=2.5)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="chunk_rows must be a positive integer, got True"):
        sortnet.argsort(X, net, chunk_rows=True)  # type: ignore[arg-type]
    from sortnet.circuit import dask as circuit_dask
    from sortnet.circuit.run import run_block

    with pytest.raises(SortnetError, match="kind must be 'sort' or 'argsort', got 'median'"):
        circuit_dask.sort(X, net, run_block, kind="median")
    compilers = pytest.importorskip("compilers")
    model = compilers.compile(net, lowering="relu")
    with pytest.raises(InputError, match="dtype must be float32 or float64, got 'fast'"):
        model(X, dtype="fast")
    with pytest.raises(InputError, match="chunk_rows must be a positive integer, got -1"):
        model(X, chunk_rows=-1)
    # Booleans run as on a numpy batch (as 0.0 and 1.0).
    flags = np.array([[True, False, True, False]] * 5)
    assert np.array_equal(model(da.from_array(flags, chunks=2)).compute(), model(flags))


def _bench(**settings: object) -> dict[str, object]:
    from sortnet.bench import BenchConfig, run_dask_benchmark

    options = dict(sizes=[4], executors=["circuit"], rows=600, repeats=1, warmup=0, memory=False)
    chunk_rows = settings.pop("chunk_rows", 200)
    options.update(settings)
    return run_dask_benchmark(  # type: ignore[no-any-return]
        BenchConfig(**options),  # type: ignore[arg-type]
        lambda n: [("bubble", sortnet.network("bubble", n))],
        chunk_rows=chunk_rows,  # type: ignore[arg-type]
    )


def test_bench_dask_engine_runs_the_requested_dtype() -> None:
    report = _bench(dtype="float64")
    assert {row["dtype"] for row in report["results"]} == {"float64"}  # type: ignore[index]
    assert all(row["exact"] for row in report["results"])  # type: ignore[index]
    assert [row["rows"] for row in report["results"]] == [600, 600, 600]  # type: ignore[index]
    with pytest.raises(SortnetError, match="--engine dask generates float32 or float64, got"):
        _bench(dtype="int32")


def test_bench_dask_engine_refuses_bad_chunk_rows() -> None:
    with pytest.raises(SortnetError, match="--chunk-rows must be at least 1, got 0"):
        _bench(chunk_rows=0)

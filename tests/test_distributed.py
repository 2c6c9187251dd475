"""The dask engine on a real ``dask.distributed`` cluster: two worker processes.

Networks, models and kernels must travel to other processes (pickled), and a
kernel is compiled or loaded on the worker that runs it. One cluster serves the
whole module (starting one takes seconds); its teardown stops every worker.
Workers run with ``SORTNET_KERNEL=numpy`` unless a test turns numba on, so
compilation only costs time where it is the point.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import sortnet
from sortnet import InputError, _jit
from sortnet.circuit import kernels

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def worker_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("worker-kernels")


@pytest.fixture(scope="module")
def cluster(worker_cache: Path) -> Iterator[Any]:
    with distributed.LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address=None,
        env={_jit.ENV_BACKEND: "numpy", _jit.ENV_CACHE_DIR: str(worker_cache)},
    ) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def client(cluster: Any) -> Iterator[Any]:
    with distributed.Client(cluster) as client:
        client.wait_for_workers(2, timeout=60)
        yield client


def _environ(name: str) -> str | None:
    return os.environ.get(name)


def _set_environ(name: str, value: str) -> None:
    os.environ[name] = value


def _sortnet_file() -> str:
    return sortnet.__file__


def _kernel_misses() -> int:
    # Compilations and disk loads in this process, straight-line and generic kernels.
    return kernels.cache_info()["misses"] + kernels.interpreter.CACHE.info()["misses"]


def rows(n: int, count: int = 1000) -> np.ndarray:
    rng = np.random.default_rng(n)
    X = rng.standard_normal((count, n)).astype(np.float32)
    X[::7, 0] = X[::7, 1]  # ties, so argsort's stability is checked too
    return X


def test_workers_are_separate_processes_running_this_sortnet(client: Any) -> None:
    pids = client.run(os.getpid)
    assert len(pids) == 2 and os.getpid() not in pids.values()
    assert set(client.run(_sortnet_file).values()) == {sortnet.__file__}
    assert set(client.run(_environ, _jit.ENV_BACKEND).values()) == {"numpy"}


def test_sort_and_argsort_on_the_cluster(client: Any) -> None:
    net = sortnet.network("best", 8)
    X = rows(8)
    lazy = da.from_array(X, chunks=(125, 3))
    assert np.array_equal(sortnet.sort(lazy, net).compute(scheduler=client), np.sort(X, axis=1))
    assert np.array_equal(
        sortnet.argsort(lazy, net, chunk_rows=300).compute(scheduler=client),
        np.argsort(X, axis=1, kind="stable"),
    )
    median = sortnet.sort(lazy, net, k=4).compute(scheduler=client)
    assert np.array_equal(median[:, 0], np.sort(X, axis=1)[:, 3])


def test_models_on_the_cluster(client: Any) -> None:
    compilers = pytest.importorskip("compilers")
    from sortnet.nn.model import CompiledModel, Layer

    model = compilers.compile(sortnet.network("odd-even-merge", 6), lowering="relu")
    negate = Layer(-np.eye(6), np.zeros(6), ("identity",) * 6)
    other = CompiledModel([*model.layers, negate], model.metadata)  # equal metadata
    X = np.random.default_rng(3).integers(-50, 50, (600, 6)).astype(np.float32)
    lazy = da.from_array(X, chunks=(100, 6))
    first, second = client.gather(client.compute([model(lazy), other(lazy)]))
    assert np.array_equal(first, model(X)) and np.array_equal(first, np.sort(X, axis=1))
    assert np.array_equal(second, other(X)) and np.array_equal(second, -np.sort(X, axis=1))


def test_errors_travel_back_with_the_row_of_the_whole_array(client: Any) -> None:
    X = np.zeros((200, 4), np.float32)
    X[130, 1] = np.nan
    lazy = da.from_array(X, chunks=(50, 4))
    with pytest.raises(InputError, match="X contains NaN at row 130$"):
        sortnet.sort(lazy, sortnet.network("bubble", 4)).compute(scheduler=client)
    compilers = pytest.importorskip("compilers")
    model = compilers.compile(sortnet.network("bubble", 4), lowering="relu")
    with pytest.raises(InputError, match="X contains NaN at row 130, column 1"):
        model(lazy).compute(scheduler=client)


@pytest.fixture
def workers_auto(client: Any) -> Iterator[None]:
    """Workers follow the client's back-end choice for one test (then numpy again)."""
    client.run(_set_environ, _jit.ENV_BACKEND, "auto")
    try:
        yield
    finally:
        client.run(_set_environ, _jit.ENV_BACKEND, "numpy")


def test_a_worker_with_numpy_set_never_compiles(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("numba")
    monkeypatch.setenv(_jit.ENV_BACKEND, "numba")  # the client asks for the kernel
    net = sortnet.Network.from_comparators(3, [(1, 2), (0, 2), (0, 1)])
    X = rows(3, 400)
    before = client.run(_kernel_misses)
    Y = sortnet.sort(da.from_array(X, chunks=100), net).compute(scheduler=client)
    assert np.array_equal(Y, np.sort(X, axis=1))
    assert client.run(_kernel_misses) == before


def test_the_numba_kernel_runs_on_the_workers(
    client: Any, worker_cache: Path, workers_auto: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("numba")
    monkeypatch.setenv(_jit.ENV_BACKEND, "numba")
    net = sortnet.Network.from_comparators(3, [(0, 1), (1, 2), (0, 1)])  # tiny: fast compile
    X = rows(3, 400)
    before = client.run(_kernel_misses)
    lazy = da.from_array(X, chunks=100)
    assert np.array_equal(sortnet.sort(lazy, net).compute(scheduler=client), np.sort(X, axis=1))
    after = client.run(_kernel_misses)
    assert sum(after.values()) > sum(before.values())  # compiled or loaded on a worker
    assert any(worker_cache.rglob("*.py"))  # the workers' cache, not this process's


def test_bench_against_the_cluster(cluster: Any, tmp_path: Path) -> None:
    env = dict(os.environ, **{_jit.ENV_BACKEND: "numpy", _jit.ENV_CACHE_DIR: str(tmp_path)})
    command = [sys.executable, "-m", "sortnet", "bench", "--engine", "dask"]
    command += ["--scheduler", cluster.scheduler_address, "--rows", "4000", "--chunk-rows"]
    command += ["1000", "--n", "4", "--family", "best", "--executor", "circuit", "neural"]
    command += ["--warmup", "0", "--repeats", "1", "--json", "-"]
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["config"]["scheduler"] == cluster.scheduler_address
    assert report["config"]["rows"] == 4000
    cases = [(row["network"], row["executor"], row["rows"]) for row in report["results"]]
    assert cases == [
        ("generate", "generate", 4000),
        ("np.sort", "np.sort", 4000),
        ("best", "circuit", 4000),
        ("best", "neural", 4000),
    ]
    exact = {row["executor"]: row["exact"] for row in report["results"]}
    assert exact["circuit"] is True, report["results"]


def test_bench_refuses_an_unreachable_scheduler(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "sortnet", "bench", "--engine", "dask", "--rows", "100"]
    command += ["--scheduler", "nonsense://nowhere", "--n", "4"]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 2
    assert "cannot connect to the dask scheduler at 'nonsense://nowhere'" in done.stderr

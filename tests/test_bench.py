"""``sortnet bench`` end to end on tiny sizes: valid JSON/CSV with the documented columns."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from sortnet import _jit
from sortnet.bench import COLUMNS
from sortnet.bench.machine import peak_memory
from sortnet.cli import main


@pytest.fixture(autouse=True)
def _kernel_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(_jit.ENV_CACHE_DIR, str(tmp_path / "kernels"))


@pytest.fixture
def numpy_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    """Time the numpy paths: these tests check the report, not the kernels, so they need
    no numba compile (the kernels have their own tests; the dask test keeps numba)."""
    monkeypatch.setenv(_jit.ENV_BACKEND, "numpy")


def test_bench_json_csv_plot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], numpy_backend: None
) -> None:
    out_json, out_csv, out_plot = tmp_path / "b.json", tmp_path / "b.csv", tmp_path / "b.svg"
    code = main(
        [
            "bench",
            "--quick",
            "--rows",
            "1000",
            "--n",
            "4",
            "--family",
            "bubble",
            "best",
            "--json",
            str(out_json),
            "--csv",
            str(out_csv),
            "--plot",
            str(out_plot),
            "--no-progress",
        ]
    )
    assert code == 0
    report = json.loads(out_json.read_text())
    assert {"cpu", "cores", "versions", "blas", "load_average"} <= set(report["machine"])
    rows = report["results"]
    assert all(list(row) == list(COLUMNS) for row in rows)
    executors = {row["executor"] for row in rows}
    assert {"np.sort", "circuit", "neural"} <= executors
    circuit = [row for row in rows if row["executor"] == "circuit"]
    assert len(circuit) == 2 and all(row["exact"] and row["max_abs_error"] == 0 for row in circuit)
    assert all(row["rows"] == 1000 and row["repeats"] == 1 for row in rows)
    assert all(row["ratio_vs_np_sort"] > 0 and row["median_s"] >= row["min_s"] for row in rows)
    table = list(csv.DictReader(io.StringIO(out_csv.read_text())))
    assert list(table[0]) == list(COLUMNS) and len(table) == len(rows)
    assert out_plot.read_text().lstrip().startswith("<?xml")
    printed = capsys.readouterr().out
    assert "vs sort" in printed and "machine:" in printed


def test_bench_counting_network_and_network_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], numpy_backend: None
) -> None:
    assert (
        main(
            [
                "bench",
                "--quick",
                "--rows",
                "500",
                "--n",
                "3",
                "--executor",
                "neural",
                "--json",
                "-",
                "--no-memory",
                "--no-progress",
            ]
        )
        == 0
    )
    rows = json.loads(capsys.readouterr().out)["results"]
    assert {row["network"] for row in rows if row["executor"] == "neural"} >= {"best", "counting"}
    path = tmp_path / "net.txt"
    path.write_text("0:1 2:3 0:2 1:3 1:2")
    assert (
        main(
            [
                "bench",
                "--quick",
                "--rows",
                "500",
                "--network",
                str(path),
                "--executor",
                "circuit",
                "--csv",
                "-",
                "--no-progress",
            ]
        )
        == 0
    )
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [
        (row["network"], row["n"], row["exact"]) for row in table if row["executor"] == "circuit"
    ] == [("net", "4", "True")]


def test_bench_dask_engine(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("dask")
    assert (
        main(
            [
                "bench",
                "--engine",
                "dask",
                "--rows",
                "3000",
                "--chunk-rows",
                "1000",
                "--n",
                "5",
                "--family",
                "odd-even-merge",
                "--json",
                "-",
                "--no-progress",
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["config"]["engine"] == "dask"
    assert [(row["executor"], row["exact"]) for row in report["results"]] == [
        ("generate", True),
        ("np.sort", True),
        ("circuit", True),
    ]


def test_peak_memory_counts_a_result() -> None:
    import numpy as np

    mb, method = peak_memory(lambda: np.ones((1 << 21, 8), np.float32))  # 64 MB
    assert method in ("vmhwm", "tracemalloc") and 60 < mb < 200


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--rows", "0"], "--rows must be at least 1, got 0"),
        (["--executor", "gpu"], "unknown executor 'gpu'"),
        (["--family", "quick"], "unknown family 'quick'"),
        (["--plot", "out.txt"], r"--plot needs a \.png, \.svg or \.pdf file"),
        (["--scheduler", "tcp://127.0.0.1:1"], "--scheduler needs --engine dask"),
        (["--n", "0"], r"--n values must be at least 1, got \[0\]"),
        (["--repeats", "0"], "--repeats must be at least 1"),
        (["--chunk-rows", "0"], "--chunk-rows must be at least 1"),
    ],
)
def test_bad_arguments(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--quick", *argv]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    import re

    assert re.search(message, err), err


def test_memory_call_runs_with_no_earlier_output_alive(monkeypatch: pytest.MonkeyPatch) -> None:
    """The peak-memory call must not see the timed calls' outputs (np.sort showed twice
    its output when the last timed result was kept alive through it)."""
    import weakref

    import numpy as np

    from sortnet.bench import timing
    from sortnet.bench.runner import BenchConfig

    outputs: list[weakref.ref] = []

    def run(X: np.ndarray) -> np.ndarray:
        out = np.sort(X, axis=1)
        outputs.append(weakref.ref(out))
        return out

    alive_at_memory_call: list[int] = []

    def fake_peak(call: object, baseline: object = None) -> tuple[float, str]:
        import gc

        gc.collect()
        alive_at_memory_call.append(sum(ref() is not None for ref in outputs))
        return 0.0, "fake"

    monkeypatch.setattr(timing, "peak_memory", fake_peak)
    X = np.random.default_rng(0).standard_normal((50, 4)).astype(np.float32)
    config = BenchConfig(sizes=[4], rows=50, repeats=3, warmup=1)
    for expected in (None, np.sort(X, axis=1)):  # as a reference (np.sort) and an executor
        outputs.clear()
        row = timing.measure("x", None, "x", run, X, expected, config)
        assert row["exact"] and row["first_call_s"] >= 0 and len(outputs) == 4
    assert alive_at_memory_call == [0, 0]


def test_cold_mode_uses_a_fresh_cache_per_case(monkeypatch: pytest.MonkeyPatch) -> None:
    from sortnet.bench.runner import fresh_kernel_cache

    before = _jit.cache_dir()
    seen = []
    for _ in range(2):
        with fresh_kernel_cache():
            seen.append(_jit.cache_dir())
            assert seen[-1].exists() and not any(seen[-1].iterdir())
    assert seen[0] != seen[1] and before not in seen and _jit.cache_dir() == before
    with fresh_kernel_cache(False):
        assert _jit.cache_dir() == before


def test_bench_task_topk_prints_the_ratio_and_checks_exactness(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from sortnet.cli import main

    code = main(["bench", "--task", "topk", "--rows", "500", "--repeats", "1"])
    out = capsys.readouterr().out
    assert code == 0
    assert "| 8 of 128 | 572 |" in out and "load average before" in out
    rows = [line for line in out.splitlines() if line[:3] == "| 8"]
    assert rows and all(row.split("|")[-2].strip().startswith("yes") for row in rows)


def test_bench_task_filter_compares_with_scipy(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("numba")
    from sortnet.bench import filter_task

    assert filter_task.main(["--side", "40", "--sizes", "3", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "| 3x3 |" in out and out.rstrip().endswith("| yes |")


def test_bench_task_refuses_bad_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    from sortnet.cli import main

    assert main(["bench", "--task", "topk", "--repeats", "0"]) == 2
    assert "--repeats must be a positive integer, got 0" in capsys.readouterr().err


def test_bench_dask_engine_markdown(tmp_path: Path) -> None:
    """The generation row has no np.sort ratio: the table shows its time alone."""
    pytest.importorskip("dask")
    out = tmp_path / "dask.md"
    argv = ["bench", "--engine", "dask", "--rows", "3000", "--chunk-rows", "1000", "--n", "5"]
    argv += ["--family", "best", "--markdown", str(out), "--no-progress"]
    assert main(argv) == 0
    table = out.read_text()
    assert "| generate ms | circuit ms (vs np.sort) |" in table
    assert "| best | 5 | 9 / 5 |" in table and "| generate |" not in table
    assert table.rstrip().endswith("x) |") or table.rstrip().endswith("x**) |")


def test_argsort_executor_is_checked_against_the_stable_argsort(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``argsort`` rows: exact against ``np.argsort(kind="stable")``, intp output counted
    in ``output_mb``, and exit 1 when a network's argsort is not the stable argsort."""
    broken = tmp_path / "broken.txt"
    broken.write_text("0:1 2:3")  # sorts nothing: argsort cannot equal the stable argsort
    argv = ["bench", "--rows", "200000", "--repeats", "1", "--executor", "circuit", "argsort"]
    argv += ["--json", "-", "--no-memory", "--no-progress"]
    assert main([*argv, "--n", "4", "--family", "best"]) == 0
    rows = json.loads(capsys.readouterr().out)["results"]
    found = {row["executor"]: row for row in rows}
    assert found["argsort"]["exact"] and found["argsort"]["max_abs_error"] == 0
    assert found["circuit"]["output_mb"] == round(200_000 * 4 * 4 / 2**20, 1)  # float32
    assert found["argsort"]["output_mb"] == round(200_000 * 4 * 8 / 2**20, 1)  # intp
    assert main([*argv, "--network", str(broken)]) == 1
    rows = json.loads(capsys.readouterr().out)["results"]
    assert [row["exact"] for row in rows if row["executor"] == "argsort"] == [False]

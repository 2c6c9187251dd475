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
    assert {row["network"] for row in rows if row["executor"] == "neural"} >= {"bubble", "counting"}
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

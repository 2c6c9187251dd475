"""``sortnet compile``, ``sortnet run``, ``sortnet verify --model``, ``sortnet info MODEL``."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

import sortnet
from sortnet.cli import main


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code, out, err = _run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("sortnet: error: ")
    return err


@pytest.fixture()
def model_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    path = tmp_path / "m.npz"
    code, out, _ = _run(capsys, "compile", "bitonic", "8", "--lowering", "abs", "-o", str(path))
    assert code == 0 and "lowering=abs" in out and f"wrote {path}" in out
    return path


def test_compile_npz_and_run_text(
    model_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert sortnet.load_model(model_path).lowering == "abs"
    monkeypatch.setattr("sys.stdin", io.StringIO("3 1 2 0 -4 9 9 5\n# skip\n1,1,1,0,0,0,2,2\n"))
    code, out, err = _run(capsys, "run", str(model_path))
    assert code == 0 and err == ""
    assert out == "-4 0 1 2 3 5 9 9\n0 0 0 1 1 1 2 2\n"


def test_run_npy_files(
    model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    X = np.random.default_rng(0).standard_normal((100, 8)).astype(np.float32)
    np.save(tmp_path / "x.npy", X)
    code, _, _ = _run(
        capsys,
        "run",
        str(model_path),
        "--input",
        str(tmp_path / "x.npy"),
        "--output",
        str(tmp_path / "y.npy"),
    )
    Y = np.load(tmp_path / "y.npy")
    assert code == 0 and Y.dtype == np.float32
    np.testing.assert_array_equal(Y, sortnet.load_model(model_path)(X))


def test_compile_onnx_k_and_counting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("onnx")
    code, out, _ = _run(
        capsys,
        "compile",
        "odd-even-merge",
        "4",
        "--k",
        "3",
        "-o",
        str(tmp_path / "m.onnx"),
        "--json",
    )
    info = json.loads(out)
    assert code == 0 and info["k"] == 3 and info["outputs"] == 1
    assert (tmp_path / "m.onnx").stat().st_size > 0
    code, out, _ = _run(
        capsys,
        "compile",
        "counting",
        "5",
        "--k",
        "median",
        "--bound",
        "100",
        "-o",
        str(tmp_path / "c.npz"),
    )
    model = sortnet.load_model(tmp_path / "c.npz")
    assert code == 0 and (model.lowering, model.k, model.bound) == ("counting", 3, 100.0)


def test_compile_bad_suffix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _usage_error(capsys, "compile", "bitonic", "4", "-o", str(tmp_path / "m.pt"))
    assert "cannot tell the model format from" in err and ".npz or .onnx" in err


def test_compile_bad_k(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _usage_error(capsys, "compile", "bitonic", "4", "--k", "9", "-o", str(tmp_path / "m.npz"))
    assert "k must be in 1..n=4, got 9" in err


def test_compile_counting_needs_n(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _usage_error(capsys, "compile", "counting", "-o", str(tmp_path / "m.npz"))
    assert "'counting' needs N" in err


def test_run_refuses_out_of_bound(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "c.npz"
    assert _run(capsys, "compile", "counting", "3", "--bound", "10", "-o", str(path))[0] == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("1 2 30\n"))
    err = _usage_error(capsys, "run", str(path))
    assert "X[0, 2] = 30 is outside the model's input bound 10" in err


def test_run_corrupt_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.npz"
    path.write_bytes(b"PK\x03\x04 truncated")
    err = _usage_error(capsys, "run", str(path))
    assert "bad.npz: " in err and ("corrupt" in err or "not a model file" in err)


def test_verify_model(model_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "verify", "--model", str(model_path))
    assert code == 0 and "exact within its contract" in out and "all 2^8 0-1 inputs" in out
    code, out, _ = _run(capsys, "verify", "--model", str(model_path), "--json")
    record = json.loads(out)
    assert record["ok"] and record["worst"]["0-1 inputs"] == 0.0
    assert record["worst"]["integers near +-2^51 (float64)"] == 0.0


def test_verify_model_detects_broken_weights(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import compilers
    from sortnet.nn.model import CompiledModel, Layer

    good = compilers.compile(sortnet.network("bitonic", 4), "abs")
    first = good.layers[0]
    weight = first.weight.copy()
    weight[0, 0] = 0.25  # one wrong weight
    broken = CompiledModel(
        [Layer(weight, first.bias, first.activations), *good.layers[1:]], good.metadata
    )
    broken.save(tmp_path / "broken.npz")
    code, out, _ = _run(capsys, "verify", "--model", str(tmp_path / "broken.npz"))
    assert code == 1 and "FAILS" in out and "failed: 0-1 inputs" in out


def test_info_model(model_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "info", str(model_path))
    assert code == 0 and "lowering=abs" in out and "hidden" in out
    code, out, _ = _run(capsys, "info", str(model_path), "--json")
    info = json.loads(out)
    assert info["hidden_layers"] == 6 and info["layers"][0]["activations"] == {
        "abs": 4,
        "identity": 4,
    }

"""ONNX export: checker, opset, shapes, and onnxruntime == the numpy executor."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import compilers
import sortnet

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

CASES = [
    ("bitonic", 8, "relu", None),
    ("odd-even-merge", 16, "abs", None),
    ("pairwise", 7, "residual", None),
    ("bubble", 5, "abs", 3),
    ("bitonic", 16, "residual", "median"),
    ("bubble", 1, "relu", None),
]


def run_onnx(path: Path, X: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": X})[0]


@pytest.mark.parametrize(("family", "n", "lowering", "k"), CASES)
def test_onnx_round_trip(tmp_path: Path, family: str, n: int, lowering: str, k: object) -> None:
    model = compilers.compile(sortnet.network(family, n), lowering, k)
    path = tmp_path / "m.onnx"
    model.to_onnx(path)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto)
    assert max(op.version for op in proto.opset_import if op.domain in ("", "ai.onnx")) >= 17
    assert [i.name for i in proto.graph.input] == ["x"]
    assert [o.name for o in proto.graph.output] == ["y"]
    dims = proto.graph.output[0].type.tensor_type.shape.dim
    assert dims[1].dim_value == model.n_outputs
    rng = np.random.default_rng(n)
    X = rng.integers(-1000, 1000, (500, n)).astype(np.float32)
    Y = run_onnx(path, X)
    assert Y.dtype == np.float32 and Y.shape == (500, model.n_outputs)
    np.testing.assert_array_equal(Y, model(X))
    F = rng.standard_normal((500, n)).astype(np.float32)  # floats: equal within the bound
    bound = model.error_bound(F, np.float32)[:, None]
    assert np.all(np.abs(run_onnx(path, F) - model(F)) <= 2 * bound)


@pytest.mark.parametrize("k", [None, 2])
def test_onnx_counting_model(tmp_path: Path, k: object) -> None:
    model = compilers.compile(sortnet.counting_network(5, k))
    model.to_onnx(tmp_path / "c.onnx")
    X = np.random.default_rng(0).standard_normal((300, 5)).astype(np.float32)
    X[:50, 0] = X[:50, 1]
    np.testing.assert_array_equal(run_onnx(tmp_path / "c.onnx", X), model(X))


def test_missing_onnx_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)
    model = compilers.compile(sortnet.network("bitonic", 4))
    with pytest.raises(ImportError, match=r"ONNX export needs the 'onnx' package: pip install"):
        model.to_onnx(tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()

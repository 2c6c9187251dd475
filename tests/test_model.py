"""The compiled-model type: structure, summary, repr, npz round trip, corrupt files."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

import compilers
import sortnet
from sortnet.nn.model import CompiledModel, Layer, load_model
from sortnet.nn.npz import FORMAT_VERSION, ModelFormatError


def test_layer_validates_shapes_and_activations() -> None:
    with pytest.raises(ValueError, match="needs 2 biases and activations, got 1 and 2"):
        Layer(np.zeros((2, 2)), [0.0], ("abs", "abs"))
    with pytest.raises(ValueError, match=r"unknown activation\(s\) \['tanh'\]"):
        Layer(np.zeros((1, 2)), [0.0], ("tanh",))
    with pytest.raises(ValueError, match="a residual block needs both out_weight and skip"):
        Layer(np.zeros((1, 2)), [0.0], ("relu",), out_weight=np.zeros((2, 1)))


def test_layers_must_chain() -> None:
    first = Layer(np.eye(2), np.zeros(2), ("identity",) * 2)
    with pytest.raises(ValueError, match="layer widths do not chain: 2 outputs feed 3"):
        CompiledModel([first, Layer(np.zeros((1, 3)), [0.0], ("identity",))], {})


def test_structure_for_diagrams() -> None:
    model = compilers.compile(sortnet.network("bitonic", 4), "residual")
    layer = model.layers[0]
    assert layer.residual and layer.groups == [("relu", 0, 2)]
    assert layer.labels == ("c0 relu(x0-x1)", "c1 relu(x2-x3)")
    assert layer.skip is not None and np.array_equal(layer.skip, np.eye(4))
    assert model.layers[-1].outputs == 4


def test_summary_and_repr() -> None:
    model = compilers.compile(sortnet.network("bitonic", 8), "abs", k="median")
    assert repr(model) == (
        "<CompiledModel n=8 -> 1, lowering=abs, k=4, 6 hidden layer(s), "
        f"{model.parameters} parameters>"
    )
    text = model.summary()
    assert "lowering=abs, k=4" in text and "output" in text
    assert f"{model.parameters} parameters, {model.nonzeros} non-zero" in text
    assert repr(model.layers[0]).startswith("<Layer 8 -> ")


@pytest.mark.parametrize("lowering", ["abs", "relu", "residual"])
def test_save_load_round_trip(tmp_path: Path, lowering: str) -> None:
    model = compilers.compile(sortnet.network("odd-even-merge", 64), lowering, k=3, bound=1e9)
    path = tmp_path / "m.npz"
    model.save(path)
    loaded = sortnet.load_model(path)
    assert loaded.metadata == model.metadata
    assert (loaded.k, loaded.bound, loaded.lowering) == (3, 1e9, lowering)
    assert loaded.metadata["source"]["comparators"] == [list(c) for c in model_source(model)]
    for a, b in zip(model.layers, loaded.layers, strict=True):
        assert a.activations == b.activations and a.labels == b.labels
        for name, matrix in a.matrices().items():
            assert type(matrix) is type(b.matrices()[name])  # dense stays dense, CSR stays CSR
    X = np.random.default_rng(0).integers(-99, 99, (50, 64)).astype(float)
    np.testing.assert_array_equal(loaded(X), model(X))
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]  # no temporary left behind
    with np.load(path, allow_pickle=False) as data:  # readable without pickle
        header = json.loads(str(data["metadata"][0]))
    assert header["format_version"] == FORMAT_VERSION and header["sortnet_version"]


def model_source(model: CompiledModel) -> list[tuple[int, int]]:
    return sortnet.network("odd-even-merge", 64).comparators


def test_large_model_uses_sparse_storage(tmp_path: Path) -> None:
    model = compilers.compile(sortnet.network("bitonic", 256))
    assert any(not isinstance(layer.weight, np.ndarray) for layer in model.layers)
    model.save(tmp_path / "big.npz")
    assert (tmp_path / "big.npz").stat().st_size < 1_000_000


def test_missing_model_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "absent.npz")


def test_not_a_zip_refused(tmp_path: Path) -> None:
    path = tmp_path / "text.npz"
    path.write_text("hello")
    with pytest.raises(ModelFormatError, match=r"text.npz: not a model file \(not an .npz"):
        load_model(path)


def test_truncated_model_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    compilers.compile(sortnet.network("bitonic", 16)).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFormatError, match="m.npz: (corrupt|not a model file)"):
        load_model(path)


def test_foreign_npz_refused(tmp_path: Path) -> None:
    path = tmp_path / "foreign.npz"
    np.savez(path, weights=np.zeros(3))
    with pytest.raises(ModelFormatError, match="not a sortnet model \\(no 'metadata' entry\\)"):
        load_model(path)


def test_pickled_npz_refused(tmp_path: Path) -> None:
    path = tmp_path / "pickled.npz"
    np.savez(path, metadata=np.array([{"format": "sortnet-model"}], dtype=object))
    with pytest.raises(
        ModelFormatError, match="pickled.npz: unreadable metadata .*allow_pickle=False"
    ):
        load_model(path)


def test_future_format_version_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.npz"
    header = {"format": "sortnet-model", "format_version": 99, "layers": [], "model": {}}
    np.savez(path, metadata=np.array([json.dumps(header)]))
    with pytest.raises(ModelFormatError, match="model format version 99 is not supported"):
        load_model(path)


def test_missing_layer_array_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    compilers.compile(sortnet.network("bitonic", 4)).save(path)
    broken = tmp_path / "broken.npz"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(broken, "w") as target:
        for item in source.infolist():
            if item.filename != "layer1.bias.npy":
                target.writestr(item, source.read(item.filename))
    with pytest.raises(ModelFormatError, match="broken.npz: corrupt model file"):
        load_model(broken)

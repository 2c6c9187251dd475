"""Model files are untrusted input: a crafted or damaged ``.npz`` is refused with one clear
line (``ModelFormatError``, CLI exit 2), never run, never a crash, never a memory blow-up.

Each bad file is made the way it would happen: write a real model, then change it with
numpy and zipfile. Every case is checked through ``sortnet.load_model`` and through
``sortnet run`` and ``sortnet verify --model``; the cases that used to crash the
interpreter (out-of-range sparse indices) or hang it run in a subprocess.
"""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse

import compilers
import sortnet
from sortnet import ModelFormatError
from sortnet.cli import main
from sortnet.generators.counting import counting_network
from sortnet.nn.model import CompiledModel, Layer
from sortnet.nn.npz import FORMAT_VERSION

REPO = Path(__file__).resolve().parents[1]

# -- making good files and bad copies of them -------------------------------------------

#: name -> (network, lowering, k, bound): small models covering every storage and lowering.
MODELS: dict[str, tuple[Callable[[], sortnet.Network], str | None, Any, Any]] = {
    "abs4": (lambda: sortnet.network("bitonic", 4), "abs", None, None),
    "abs4k2": (lambda: sortnet.network("bitonic", 4), "abs", 2, None),
    "relu4": (lambda: sortnet.network("bitonic", 4), "relu", None, 1e9),
    "relu32": (lambda: sortnet.network("bitonic", 32), "relu", None, None),  # CSR weights
    "residual4": (lambda: sortnet.network("bitonic", 4), "residual", None, None),
    "counting3": (lambda: counting_network(3), None, None, None),
    "counting3k2": (lambda: counting_network(3), None, 2, 8.0),
}


def compiled(name: str) -> CompiledModel:
    net, lowering, k, bound = MODELS[name]
    return compilers.compile(net(), lowering, k=k, bound=bound)


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One saved file per entry of :data:`MODELS`."""
    folder = tmp_path_factory.mktemp("good")
    paths = {}
    for name in MODELS:
        paths[name] = folder / f"{name}.npz"
        compiled(name).save(paths[name])
    return paths


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def arrays_of(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {name: data[name] for name in data.files}


def header_of(path: Path) -> dict[str, Any]:
    return json.loads(str(arrays_of(path)["metadata"][0]))


def rewrite(
    source: Path,
    target: Path,
    *,
    arrays: dict[str, Any] | None = None,
    drop: tuple[str, ...] = (),
    header: Callable[[dict[str, Any]], None] | None = None,
) -> Path:
    """Copy a model file, replacing or adding ``arrays`` (name -> array or raw .npy
    bytes), dropping ``drop`` and editing the JSON header in place with ``header``."""
    with zipfile.ZipFile(source) as archive:
        members = {item.filename: archive.read(item.filename) for item in archive.infolist()}
    if header is not None:
        document = header_of(source)
        header(document)
        members["metadata.npy"] = npy(np.array([json.dumps(document)]))
    for name, value in (arrays or {}).items():
        members[f"{name}.npy"] = value if isinstance(value, bytes) else npy(value)
    for name in drop:
        del members[f"{name}.npy"]
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return target


def changed(good: Path, tmp: Path, name: str, edit: Callable[[np.ndarray], Any]) -> Path:
    """``good`` with array ``name`` replaced by ``edit(copy of it)`` (edit may mutate)."""
    array = arrays_of(good)[name].copy()
    result = edit(array)
    return rewrite(good, tmp / "bad.npz", arrays={name: array if result is None else result})


def edited(good: Path, tmp: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    return rewrite(good, tmp / "bad.npz", header=edit)


def model_meta(**changes: Any) -> Callable[[dict[str, Any]], None]:
    return lambda header: header["model"].update(changes)


def source_meta(**changes: Any) -> Callable[[dict[str, Any]], None]:
    return lambda header: header["model"]["source"].update(changes)


def runs(index: int, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(header: dict[str, Any]) -> None:
        header["layers"][index]["activations"] = value

    return edit


def legacy(header: dict[str, Any]) -> None:
    """What sortnet 0.1.0 wrote: format version 1, no digest."""
    header["format_version"] = 1
    del header["digest"]


# -- the CLI ---------------------------------------------------------------------------


def width(path: Path) -> int:
    return int(header_of(path)["model"]["n"])


def cli_refuses(capsys: pytest.CaptureFixture[str], path: Path, message: str, n: int) -> None:
    """``sortnet run`` and ``sortnet verify --model`` both exit 2 with one line naming it."""
    X = path.parent / "X.npy"
    np.save(X, np.arange(2.0 * n).reshape(2, n))
    for argv in (["run", str(path), "--input", str(X)], ["verify", "--model", str(path)]):
        code = main(argv)
        captured = capsys.readouterr()
        assert (code, captured.out) == (2, ""), (argv, captured)
        assert captured.err.count("\n") == 1 and captured.err.startswith("sortnet: error: ")
        assert path.name in captured.err and "Traceback" not in captured.err
        assert __import__("re").search(message, captured.err), captured.err


def refused(path: Path, message: str, capsys: pytest.CaptureFixture[str], n: int) -> None:
    with pytest.raises(ModelFormatError, match=message) as error:
        sortnet.load_model(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)
    cli_refuses(capsys, path, message, n)


def subprocess_cli(*argv: str, timeout: float = 120, **options: Any) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sortnet", *argv],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        **options,
    )


def assert_one_line_exit_2(result: subprocess.CompletedProcess, name: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert result.stdout == "" and result.stderr.count("\n") == 1, result.stderr
    assert name in result.stderr and "Traceback" not in result.stderr


# -- 5. a good file round-trips exactly; a modified one is refused -------------------------


@pytest.mark.parametrize("name", list(MODELS))
def test_good_model_round_trips_exactly(good: dict[str, Path], name: str) -> None:
    model, loaded = compiled(name), sortnet.load_model(good[name])
    assert loaded.metadata == model.metadata and loaded.digest == model.digest
    header = header_of(good[name])
    assert header["format_version"] == FORMAT_VERSION == 2 and header["digest"] == model.digest
    for before, after in zip(model.layers, loaded.layers, strict=True):
        assert (before.activations, before.labels) == (after.activations, after.labels)
        np.testing.assert_array_equal(before.bias, after.bias)
        for key, matrix in before.matrices().items():
            other = after.matrices()[key]
            assert type(other) is type(matrix)  # dense stays dense, CSR stays CSR
            np.testing.assert_array_equal(
                getattr(matrix, "toarray", lambda m=matrix: m)(),
                getattr(other, "toarray", lambda m=other: m)(),
            )
    X = np.random.default_rng(1).integers(-8, 9, (20, model.n)).astype(float)  # within bounds
    np.testing.assert_array_equal(loaded(X, engine="numpy"), model(X, engine="numpy"))


def _flip_first(array: np.ndarray) -> None:
    array.flat[np.flatnonzero(array)[0]] *= -1


@pytest.mark.parametrize(
    ("model", "tamper"),
    [
        ("abs4", lambda g, t: changed(g, t, "layer0.weight", _flip_first)),
        ("relu32", lambda g, t: changed(g, t, "layer1.weight.data", _flip_first)),
        ("residual4", lambda g, t: changed(g, t, "layer0.skip", _flip_first)),
        ("abs4", lambda g, t: changed(g, t, "layer1.bias", lambda a: a + 0.001)),
        # Swap which units are abs and which identity: every name is still allowed.
        ("abs4", lambda g, t: edited(g, t, runs(0, [["identity", 2], ["abs", 2]]))),
        ("abs4", lambda g, t: edited(g, t, source_meta(descending=True))),
        ("counting3k2", lambda g, t: edited(g, t, model_meta(bound=16.0))),
        ("relu4", lambda g, t: edited(g, t, model_meta(bound=None))),
    ],
    ids=[
        "weight-sign",
        "sparse-weight-sign",
        "skip",
        "bias",
        "activations",
        "descending",
        "bound",
        "bound-removed",
    ],
)
def test_modified_file_is_refused(
    good: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    model: str,
    tamper: Callable[[Path, Path], Path],
) -> None:
    bad = tamper(good[model], tmp_path)
    refused(bad, r"bad.npz: modified after it was written", capsys, width(bad))


def test_removed_digest_is_refused(
    good: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = edited(good["abs4"], tmp_path, lambda header: header.pop("digest"))
    refused(bad, "modified after it was written .its content digest was removed", capsys, 4)


def test_digest_less_file_needs_opt_in(
    good: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = edited(good["abs4"], tmp_path, legacy)
    refused(old, "has no content digest .*--allow-missing-digest", capsys, 4)
    model = sortnet.load_model(old, allow_missing_digest=True)
    assert model.digest == compiled("abs4").digest  # same content, now with a digest
    X = tmp_path / "X.npy"
    np.save(X, np.array([[3.0, 1.0, 2.0, 0.0]]))
    assert main(["run", str(old), "--input", str(X), "--allow-missing-digest"]) == 0
    assert capsys.readouterr().out.split() == ["0.0", "1.0", "2.0", "3.0"]
    assert main(["verify", "--model", str(old), "--allow-missing-digest"]) == 0
    assert main(["info", str(old), "--allow-missing-digest"]) == 0
    capsys.readouterr()
    model.save(tmp_path / "again.npz")  # saving adds the digest
    assert header_of(tmp_path / "again.npz")["digest"] == model.digest


def test_opt_in_keeps_every_other_check(good: dict[str, Path], tmp_path: Path) -> None:
    old = rewrite(
        good["abs4"],
        tmp_path / "old.npz",
        arrays={"layer0.bias": np.full(4, np.nan)},
        header=legacy,
    )
    with pytest.raises(ModelFormatError, match="layer0.bias contains NaN"):
        sortnet.load_model(old, allow_missing_digest=True)


@pytest.mark.parametrize(
    ("version", "message"),
    [
        (3, r"format version 3 is not supported .*reads versions 1, 2; .*newer sortnet"),
        ("2", r"format version '2' is not supported \(this sortnet reads versions 1, 2\)"),
        (True, r"format version True is not supported \(this sortnet reads versions 1, 2\)"),
    ],
)
def test_unknown_format_version(
    good: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    version: Any,
    message: str,
) -> None:
    bad = edited(good["abs4"], tmp_path, lambda header: header.update(format_version=version))
    refused(bad, message, capsys, 4)


# -- 5. values and metadata that contradict the weights --------------------------------------

BAD_METADATA = [
    ("nan-weight", "abs4", "array", ("layer0.weight", lambda a: a * np.nan), "layer0.weight con"),
    ("inf-bias", "abs4", "array", ("layer1.bias", lambda a: a + np.inf), "layer1.bias contains"),
    (
        "inf-csr",
        "relu32",
        "array",
        ("layer2.weight.data", lambda a: a * np.inf),
        "data contains NaN",
    ),
    ("k-zero", "abs4k2", "model", {"k": 0}, r"k=0 is not an integer in 1..n=4"),
    ("k-past-n", "abs4k2", "model", {"k": 5}, r"k=5 is not an integer in 1..n=4"),
    ("k-string", "abs4k2", "model", {"k": "2"}, r"k='2' is not an integer"),
    ("k-float", "abs4k2", "model", {"k": 2.0}, r"k=2.0 is not an integer"),
    ("k-bool", "abs4k2", "model", {"k": True}, r"k=True is not an integer"),
    ("k-on-sorter", "abs4", "model", {"k": 2}, r"k=2 but the model has 4 outputs"),
    ("sorter-width", "abs4k2", "model", {"k": None, "readout": None}, r"k=None .*has 1 outputs"),
    ("lowering-abs", "relu4", "model", {"lowering": "abs"}, r"lowering 'abs' but .*\['relu'\]"),
    ("lowering-relu", "abs4", "model", {"lowering": "relu"}, r"lowering 'relu' but .*\['abs'\]"),
    ("lowering-residual", "relu4", "model", {"lowering": "residual"}, "not every layer is a res"),
    ("lowering-relu-res", "residual4", "model", {"lowering": "relu"}, "has residual blocks"),
    ("lowering-unknown", "abs4", "model", {"lowering": "tanh"}, "lowering 'tanh' is unknown"),
    ("lowering-list", "abs4", "model", {"lowering": ["abs"]}, r"lowering \['abs'\] is unknown"),
    (
        "lowering-counting",
        "relu4",
        "both",
        ({"lowering": "counting"}, {"kind": "counting"}),
        "no step and indicator units",
    ),
    ("kind-mismatch", "relu4", "model", {"lowering": "counting"}, "'comparator' source network"),
    ("bound-zero", "relu4", "model", {"bound": 0}, "bound=0 is not a positive finite number"),
    ("bound-negative", "relu4", "model", {"bound": -1.0}, "bound=-1.0 is not a positive"),
    ("bound-nan", "relu4", "model", {"bound": float("nan")}, "bound=nan is not a positive"),
    ("bound-string", "relu4", "model", {"bound": "1e9"}, "bound='1e9' is not a positive"),
    ("bound-bool", "relu4", "model", {"bound": True}, "bound=True is not a positive"),
    ("bound-huge", "relu4", "model", {"bound": 1e300}, r"bound=1e\+300 .* <= 2\*\*120"),
    ("counting-no-bound", "counting3", "model", {"bound": None}, "has no bound, which a counting"),
    ("n", "abs4", "model", {"n": 5}, r"metadata n=5 does not match the weights \(n=4\)"),
    ("n-string", "abs4", "model", {"n": "4"}, r"metadata n='4' does not match"),
    ("source-n", "abs4", "source", {"n": 8}, r"source network n=8 does not match"),
    ("source-wire", "abs4", "source", {"comparators": [[0, 9]]}, r"pairs of wires in 0..3"),
    ("descending", "abs4", "source", {"descending": "yes"}, "'descending' must be true or false"),
    ("readout", "abs4k2", "model", {"readout": [[1, 0, 0, 0]]}, "not the 1 x 4 one-hot row at k"),
    ("readout-no-k", "abs4", "model", {"readout": [[1, 0, 0, 0]]}, "has a readout W3 but no k"),
    ("digest-key", "abs4", "model", {"digest": "0" * 64}, "holds a 'digest' entry"),
    ("activation", "abs4", "runs", [["tanh", 2], ["identity", 2]], r"unknown activation 'tanh'"),
]


@pytest.mark.parametrize(
    ("model", "kind", "change", "message"),
    [case[1:] for case in BAD_METADATA],
    ids=[case[0] for case in BAD_METADATA],
)
def test_contradicting_file_is_refused(
    good: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    model: str,
    kind: str,
    change: Any,
    message: str,
) -> None:
    source = good[model]
    if kind == "array":
        bad = changed(source, tmp_path, change[0], change[1])
    elif kind == "model":
        bad = edited(source, tmp_path, model_meta(**change))
    elif kind == "source":
        bad = edited(source, tmp_path, source_meta(**change))
    elif kind == "runs":
        bad = edited(source, tmp_path, runs(0, change))
    else:

        def both(header: dict[str, Any]) -> None:
            header["model"].update(change[0])
            header["model"]["source"].update(change[1])

        bad = edited(source, tmp_path, both)
    refused(bad, message, capsys, width(source))


def test_save_refuses_what_load_would_refuse(tmp_path: Path) -> None:
    model = compiled("abs4")
    weight = model.layers[0].weight.copy()
    weight[0, 0] = np.nan
    broken = CompiledModel([Layer(weight, model.layers[0].bias, model.layers[0].activations),
                            *model.layers[1:]], model.metadata)  # fmt: skip
    with pytest.raises(ModelFormatError, match="cannot save model to .*nan.npz: layer0.weight"):
        broken.save(tmp_path / "nan.npz")
    contradicting = CompiledModel(model.layers, {**model.metadata, "k": 7})
    with pytest.raises(ModelFormatError, match=r"cannot save .*k.npz: metadata k=7 is not"):
        contradicting.save(tmp_path / "k.npz")
    assert list(tmp_path.iterdir()) == []


# -- 6. arrays: sparse structure, shapes, dtypes ---------------------------------------------


def _set(index: int, value: int) -> Callable[[np.ndarray], None]:
    def edit(array: np.ndarray) -> None:
        array[index] = value

    return edit


BAD_ARRAYS = [
    ("csr-index-past-end", "layer1.weight.indices", _set(0, 10**6), r"column index 1000000 outs"),
    ("csr-index-at-end", "layer1.weight.indices", _set(3, 64), r"column index 64 outside 0..63"),
    ("csr-index-negative", "layer1.weight.indices", _set(0, -1), r"column index -1 outside"),
    ("indptr-length", "layer1.weight.indptr", lambda a: a[:-1], r"indptr has 64 entries for 64"),
    ("indptr-start", "layer1.weight.indptr", _set(0, 1), r"indptr runs from 1 to"),
    (
        "indptr-end",
        "layer1.weight.indptr",
        lambda a: a[:] - 0 + (np.arange(a.size) == a.size - 1),
        r"indptr runs from 0 to \d+, not from 0 to",
    ),  # fmt: skip
    ("indptr-decreasing", "layer1.weight.indptr", _set(1, 100), r"indptr decreases"),
    ("data-length", "layer1.weight.data", lambda a: a[:-1], r"column indices for \d+ values"),
    ("shape-columns", "layer1.weight.shape", lambda a: a + [0, 1], r"layer 1 reads 65 values but"),
    ("shape-zero", "layer1.weight.shape", lambda a: a * [1, 0], r"two positive sizes, got"),
    ("shape-length", "layer1.weight.shape", lambda a: a[:1], r"two positive sizes, got"),
    ("indices-float", "layer1.weight.indices", lambda a: a.astype(float), "1-D integer array"),
    ("data-complex", "layer1.weight.data", lambda a: a + 0j, r"complex64; weights are float32"),
    ("data-int", "layer1.weight.data", lambda a: a.astype(np.int64), "int64; weights are float"),
    ("bias-bool", "layer1.bias", lambda a: a > 0, r"bias has dtype bool"),
    ("bias-strings", "layer1.bias", lambda a: a.astype(str), r"bias has dtype <U"),
    ("bias-object", "layer1.bias", lambda a: a.astype(object), r"unreadable layer1.bias .*pickle"),
    ("bias-short", "layer1.bias", lambda a: a[:-1], r"layer1.bias has 63 entries for 64 units"),
    ("bias-2d", "layer1.bias", lambda a: a[None], r"layer1.bias has shape \(1, 64\); expected 1-D"),
]


@pytest.mark.parametrize(
    ("name", "edit", "message"), [c[1:] for c in BAD_ARRAYS], ids=[c[0] for c in BAD_ARRAYS]
)
def test_bad_sparse_layer_is_refused(
    good: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    edit: Callable[[np.ndarray], Any],
    message: str,
) -> None:
    assert "layer1.weight.indices" in arrays_of(good["relu32"])  # layer 1 is stored CSR
    refused(changed(good["relu32"], tmp_path, name, edit), message, capsys, 32)


BAD_DENSE = [
    (
        "weight-extra-column",
        "abs4",
        "layer1.weight",
        lambda a: np.hstack([a, a[:, :1]]),
        r"layer 1 reads 5 values but layer 0 outputs 4",
    ),  # fmt: skip
    ("weight-1d", "abs4", "layer0.weight", lambda a: a.ravel(), r"shape \(16,\); expected 2-D"),
    ("weight-3d", "abs4", "layer0.weight", lambda a: a[None], r"shape \(1, 4, 4\) is not an array"),
    ("weight-empty", "abs4", "layer0.weight", lambda a: a[:0], r"needs rows and columns"),
    (
        "skip-shape",
        "residual4",
        "layer0.skip",
        lambda a: a[:, :3],
        r"layer 0: a residual block of 2 units on 4 inputs needs",
    ),  # fmt: skip
    (
        "out-weight-shape",
        "residual4",
        "layer1.out_weight",
        lambda a: a[:3],
        r"layer 1: a residual block",
    ),  # fmt: skip
]


@pytest.mark.parametrize(
    ("model", "name", "edit", "message"), [c[1:] for c in BAD_DENSE], ids=[c[0] for c in BAD_DENSE]
)
def test_bad_dense_layer_is_refused(
    good: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    model: str,
    name: str,
    edit: Callable[[np.ndarray], Any],
    message: str,
) -> None:
    refused(changed(good[model], tmp_path, name, edit), message, capsys, 4)


def test_missing_and_extra_arrays_are_refused(
    good: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = rewrite(good["relu32"], tmp_path / "missing.npz", drop=("layer2.weight.indptr",))
    refused(missing, r"missing array 'layer2.weight.indptr'", capsys, 32)
    extra = rewrite(good["abs4"], tmp_path / "extra.npz", arrays={"payload": np.zeros(3)})
    refused(extra, r"extra array 'payload'", capsys, 4)


@pytest.mark.parametrize("index", [10**6, -1])
@pytest.mark.parametrize("command", ["run", "verify", "numba"])
def test_out_of_range_sparse_index_does_not_crash(
    good: dict[str, Path], tmp_path: Path, index: int, command: str
) -> None:
    # These used to die with SIGSEGV (scipy and the numba kernels read out of bounds).
    bad = changed(good["relu32"], tmp_path, "layer1.weight.indices", _set(0, index))
    X = tmp_path / "X.npy"
    np.save(X, np.arange(64.0).reshape(2, 32))
    if command == "run":
        result = subprocess_cli("run", str(bad), "--input", str(X))
    elif command == "verify":
        result = subprocess_cli("verify", "--model", str(bad))
    else:  # the numba engine itself, through the API
        code = (
            "import sys, numpy as np, sortnet\n"
            "try:\n"
            f"    model = sortnet.load_model({str(bad)!r})\n"
            "except sortnet.SortnetError as error:\n"
            "    sys.exit(print(error, file=sys.stderr) or 2)\n"
            f"model(np.load({str(X)!r}), engine='numba')\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300
        )
    assert_one_line_exit_2(result, "bad.npz")
    assert "is not a valid sparse matrix: column index" in result.stderr


def _sparse(kind: Any, indices: list[int], indptr: list[int]) -> Callable[[], Any]:
    return lambda: kind((np.ones(2), np.array(indices), np.array(indptr)), shape=(2, 2))


@pytest.mark.parametrize(
    "build",
    [
        _sparse(scipy.sparse.csr_array, [0, 5], [0, 1, 2]),
        _sparse(scipy.sparse.csr_array, [0, -1], [0, 1, 2]),
        _sparse(scipy.sparse.csr_matrix, [0, 1], [0, 2, 1]),
        _sparse(scipy.sparse.csc_array, [0, 7], [0, 1, 2]),
    ],
    ids=["csr-past-end", "csr-negative", "indptr-decreasing", "csc-past-end"],
)
def test_layer_refuses_invalid_sparse_weights(build: Callable[[], Any]) -> None:
    with pytest.raises(ValueError, match="weight is not a valid sparse matrix"):
        Layer(build(), np.zeros(2), ("relu", "relu"))


def test_layer_refuses_coo_moved_out_of_range() -> None:
    coo = scipy.sparse.coo_array((np.ones(2), (np.array([0, 1]), np.array([0, 1]))), shape=(2, 2))
    coo.col[1] = 9  # scipy checked at construction only
    with pytest.raises(ValueError, match="skip is not a valid sparse matrix: an entry lies"):
        Layer(np.eye(2), np.zeros(2), ("relu",) * 2, out_weight=np.eye(2), skip=coo)
    valid = scipy.sparse.csr_array(np.array([[0.5, -0.5], [0.5, 0.5]]))
    layer = Layer(valid, np.zeros(2), ("abs", "identity"))  # a valid one is still accepted
    np.testing.assert_array_equal(layer.forward(np.array([[3.0, -1.0]])), [[2.0, 1.0]])


# -- 7. sizes: every count and size bounded before anything is allocated ---------------------


BAD_COUNTS = [
    ("huge", [["abs", 10**12], ["identity", 2]], r"layer 0: activation counts exceed its 4 units"),
    ("short", [["abs", 1], ["identity", 2]], r"activation counts sum to 3, not its 4 units"),
    ("zero", [["abs", 0], ["abs", 2], ["identity", 2]], r"activation count 0 is not an integer"),
    ("negative", [["abs", -2], ["abs", 4], ["identity", 2]], r"activation count -2 is not"),
    ("bool", [["abs", True], ["abs", 1], ["identity", 2]], r"activation count True is not"),
    ("float", [["abs", 2.0], ["identity", 2]], r"activation count 2.0 is not an integer"),
    ("not-pairs", [["abs", 2, 0]], r"'activations' must be \[name, count\] runs"),
]


@pytest.mark.parametrize(
    ("value", "message"), [c[1:] for c in BAD_COUNTS], ids=[c[0] for c in BAD_COUNTS]
)
def test_activation_counts_are_bounded(
    good: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    value: Any,
    message: str,
) -> None:
    refused(edited(good["abs4"], tmp_path, runs(0, value)), message, capsys, 4)


def test_run_length_bomb_in_a_real_process(good: dict[str, Path], tmp_path: Path) -> None:
    # A 2.5 KB file used to expand 10**12 activation names until MemoryError; cap the
    # process's memory so the old behaviour fails fast instead of swapping the machine.
    bad = edited(good["abs4"], tmp_path, runs(0, [["abs", 10**12], ["identity", 2]]))
    assert bad.stat().st_size < 4000

    def cap() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))

    result = subprocess_cli("verify", "--model", str(bad), preexec_fn=cap)
    assert_one_line_exit_2(result, "bad.npz")
    assert "activation counts exceed its 4 units" in result.stderr


def test_declared_array_shape_is_bounded(
    good: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # An .npy header may declare any shape; only the bytes present may be allocated.
    real = npy(np.zeros(4))
    header_length = struct.unpack("<H", real[8:10])[0]
    text = real[10 : 10 + header_length].decode("latin1")
    text = text.replace("(4,)", "(1000000000000,)")
    text = text.rstrip("\n").rstrip(" ")
    text = text + " " * (header_length - len(text) - 1) + "\n"
    assert len(text) == header_length
    bad = rewrite(
        good["abs4"],
        tmp_path / "bad.npz",
        arrays={"layer0.bias": real[:10] + text.encode("latin1") + real[10 + header_length :]},
    )
    refused(bad, r"layer0.bias.npy: its header declares shape \(1000000000000,\)", capsys, 4)


def _set_declared_size(path: Path, member: str, size: int) -> None:
    """Patch the zip central directory's uncompressed size of ``member``."""
    data = bytearray(path.read_bytes())
    start = data.find(b"PK\x01\x02")
    while start >= 0:
        name_length = struct.unpack("<H", data[start + 28 : start + 30])[0]
        if data[start + 46 : start + 46 + name_length].decode() == member:
            data[start + 24 : start + 28] = struct.pack("<I", size)
            path.write_bytes(bytes(data))
            return
        start = data.find(b"PK\x01\x02", start + 4)
    raise AssertionError(f"{member} not found")


def test_declared_member_size_is_bounded(
    good: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_bytes(good["abs4"].read_bytes())
    _set_declared_size(bad, "layer0.bias.npy", 0xFFFFFFF0)
    refused(bad, r"take 4096.0 MiB uncompressed, more than the limit of 1024.0 MiB", capsys, 4)


def test_compression_bomb_is_refused(
    good: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = rewrite(good["abs4"], tmp_path / "bad.npz", arrays={"layer0.bias": np.zeros(3 << 20)})
    assert bad.stat().st_size < 100_000  # 24 MiB of zeros in a few KB
    refused(bad, r"more than 200 times its size on disk \(a compression bomb\?\)", capsys, 4)


def test_deeply_nested_metadata_is_refused(
    good: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = '{"format": "sortnet-model", "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    bad = rewrite(good["abs4"], tmp_path / "bad.npz", arrays={"metadata": np.array([text])})
    refused(bad, r"unreadable metadata \(maximum recursion depth", capsys, 4)


# -- 8. files that are not model files -----------------------------------------------------


def test_dev_zero_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero")
    with pytest.raises(ModelFormatError, match=r"/dev/zero: not a regular file"):
        sortnet.load_model("/dev/zero")
    result = subprocess_cli("run", "/dev/zero", "--input", "-", timeout=60, input="1 2\n")
    assert_one_line_exit_2(result, "/dev/zero")
    result = subprocess_cli("verify", "--model", "/dev/zero", timeout=60)
    assert_one_line_exit_2(result, "/dev/zero")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_named_pipe_is_refused_without_waiting(tmp_path: Path) -> None:
    pipe = tmp_path / "pipe.npz"
    os.mkfifo(pipe)  # opening it for reading would wait for a writer forever
    result = subprocess_cli("verify", "--model", str(pipe), timeout=60)
    assert_one_line_exit_2(result, "pipe.npz")
    assert "not a regular file" in result.stderr


def test_empty_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    refused(empty, r"empty.npz: empty file, not a model file", capsys, 4)


def test_zip_that_is_not_an_npz_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "notes.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    message = r"notes.npz: not a model file \(archive member 'readme.txt' is not .npy\)"
    refused(path, message, capsys, 4)


def test_oversized_file_is_refused_before_reading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    big = tmp_path / "big.npz"
    with big.open("wb") as stream:
        stream.truncate(300 << 20)  # sparse: no disk space, no time
    refused(big, r"big.npz: 300.0 MiB is more than the model file limit of 256.0 MiB", capsys, 4)

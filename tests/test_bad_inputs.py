"""User mistakes across the API and the CLI: a clear error naming the problem, never a
traceback or a wrong answer (found by the QA pass; one test per mistake)."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import pytest

import compilers
import sortnet
from sortnet.cli import main
from sortnet.errors import InputError, InvalidNetworkError, NetworkFormatError, SortnetError


def _usage_error(capsys: pytest.CaptureFixture[str], *argv: str, stdin: str = "") -> str:
    """Run the CLI; assert exit 2, nothing on stdout and one line on stderr; return it."""
    code = main(list(argv))
    captured = capsys.readouterr()
    assert (code, captured.out) == (2, ""), captured
    assert captured.err.count("\n") == 1 and captured.err.startswith("sortnet: error: ")
    return captured.err


@pytest.fixture()
def model_path(tmp_path: Path) -> Path:
    path = tmp_path / "m.npz"
    compilers.compile(sortnet.network("bubble", 4)).save(path)
    return path


# -- sizes: a mistyped n is refused at once, not built until memory runs out -------------


@pytest.mark.parametrize(
    ("family", "n", "message"),
    [
        ("bubble", 10**9, "n=1000000000 is more than sortnet's limit of 65536 wires"),
        ("bubble", 2000, r"bubble on n=2000 wires needs up to 1999000 comparators, more than"),
        ("bitonic", 16385, r"bitonic on n=16385 wires needs up to 1966080 comparators"),
        ("odd-even-merge", 40000, "odd-even-merge on n=40000 wires needs up to"),
        ("pairwise", 40000, "pairwise on n=40000 wires needs up to"),
        ("insertion", 5000, "insertion on n=5000 wires needs up to"),
        ("odd-even-transposition", 5000, "odd-even-transposition on n=5000 wires"),
    ],
)
def test_network_too_big_is_refused(family: str, n: int, message: str) -> None:
    with pytest.raises(SortnetError, match=message):
        sortnet.network(family, n)


def test_numpy_integer_n_is_accepted() -> None:
    assert sortnet.network("bubble", np.int64(4)).size == 6
    assert sortnet.counting_network(np.int64(3), k=np.int64(2)).n == 3


def test_counting_network_too_big_is_refused() -> None:
    with pytest.raises(SortnetError, match="more than 256 inputs are not supported.*n=257"):
        sortnet.counting_network(257)


def test_counting_k_names_are_case_insensitive() -> None:
    assert sortnet.counting_network(4, k="MEDIAN").graph.graph["k"] == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0:1000000000", "n=1000000001 is more than sortnet's limit of 65536 wires"),
        ('{"N": 1000000000, "nw": [[0, 1]]}', "more than sortnet's limit of 65536 wires"),
    ],
)
def test_load_network_with_a_huge_wire_is_refused(text: str, message: str) -> None:
    with pytest.raises(NetworkFormatError, match=message):
        sortnet.load_network(text)


def test_too_many_comparators_is_refused() -> None:
    with pytest.raises(InvalidNetworkError, match="comparators is more than sortnet's limit"):
        sortnet.Network.from_comparators(2, [(0, 1)] * (2**20 + 1))


def test_cli_huge_n_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    err = _usage_error(capsys, "info", "bubble", "1000000000")
    assert "more than sortnet's limit of 65536 wires" in err
    assert "more than 256 inputs" in _usage_error(
        capsys, "compile", "counting", "100000", "-o", "x.npz"
    )


def test_cli_list_past_the_limit_shows_unsupported_sizes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["list", "--n", "2000", "--json"]) == 0
    rows = {row["family"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["bubble"]["size"] is None and rows["bitonic"]["size"] == 65536


# -- drawings too big for Graphviz --------------------------------------------------------


def test_draw_graph_style_refuses_a_huge_network() -> None:
    with pytest.raises(SortnetError, match="graph style draws at most 1000 modules.*has 2016"):
        sortnet.draw(sortnet.network("bubble", 64), style="graph")


def test_draw_wires_style_refuses_a_huge_network() -> None:
    with pytest.raises(SortnetError, match="wires style draws at most 5000 comparators"):
        sortnet.draw(sortnet.network("bubble", 101), style="wires")


def test_draw_accepts_numpy_k_and_cli_named_k(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert sortnet.draw(sortnet.network("bubble", 4), k=np.int64(2)) is not None
    assert main(["draw", "bubble", "4", "--k", "median", "-o", str(tmp_path / "m.dot")]) == 0
    assert "wrote" in capsys.readouterr().err
    assert "--k must be an integer or median, min, max; got 'foo'" in _usage_error(
        capsys, "draw", "bubble", "4", "--k", "foo", "-o", str(tmp_path / "m.dot")
    )


def test_save_drawing_needs_a_drawing(tmp_path: Path) -> None:
    with pytest.raises(SortnetError, match="save_drawing needs a graphviz.Digraph.*got str"):
        sortnet.save_drawing("digraph {}", tmp_path / "x.dot")  # type: ignore[arg-type]


# -- output paths: checked before the work, named as the user gave them --------------------


@pytest.mark.parametrize(
    "argv",
    [
        ("compile", "bubble", "4", "-o", "{missing}/m.npz"),
        ("compile", "bubble", "4", "-o", "{missing}/m.onnx"),
        ("draw", "bubble", "4", "-o", "{missing}/m.svg"),
        ("sort", "bubble", "4", "--output", "{missing}/y.npy"),
    ],
)
def test_cli_output_in_a_missing_folder(
    argv: tuple[str, ...], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope"
    args = [arg.format(missing=missing) for arg in argv]
    err = _usage_error(capsys, *args)
    assert f"folder '{missing}' does not exist" in err and ".tmp" not in err


def test_cli_run_output_checked_before_reading(
    model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _usage_error(capsys, "run", str(model_path), "--output", str(tmp_path / "a" / "y.npy"))
    assert "does not exist" in err


def test_saving_onto_a_directory(tmp_path: Path) -> None:
    model = compilers.compile(sortnet.network("bubble", 4))
    folder = tmp_path / "d.npz"
    folder.mkdir()
    with pytest.raises(SortnetError, match="cannot write model .*d.npz': it is a directory"):
        model.save(folder)
    with pytest.raises(SortnetError, match="cannot write network .*: it is a directory"):
        sortnet.save_network(sortnet.network("bubble", 4), folder)


def test_written_files_are_not_private(tmp_path: Path) -> None:
    """Temporary files are 0600; the renamed result gets the permissions open() would."""
    umask = os.umask(0o022)
    try:
        model = compilers.compile(sortnet.network("bubble", 4))
        model.save(tmp_path / "m.npz")
        sortnet.save_network(sortnet.network("bubble", 4), tmp_path / "n.json")
    finally:
        os.umask(umask)
    for name in ("m.npz", "n.json"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644


def test_demo_out_that_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "f.txt"
    target.write_text("x")
    assert "--out must be a folder" in _usage_error(capsys, "demo", "--out", str(target))


def test_demo_rows_and_seed_limits(capsys: pytest.CaptureFixture[str]) -> None:
    err = _usage_error(capsys, "demo", "--rows", "1000000000000")
    assert "--rows must be at most 10000000, got 1000000000000" in err
    assert "must be an integer >= 0, got '-1'" in _usage_error(capsys, "demo", "--seed", "-1")


# -- seeds ------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [-1, 1.5, True, "3"])
def test_verify_bad_seed(seed: object) -> None:
    with pytest.raises(InputError, match="seed must be an integer >= 0 or None"):
        sortnet.verify(sortnet.network("bubble", 4), seed=seed, exhaustive=False)  # type: ignore[arg-type]


def test_verify_bad_exhaustive_flag() -> None:
    with pytest.raises(InputError, match="exhaustive must be True, False or None, got 'yes'"):
        sortnet.verify(sortnet.network("bubble", 4), exhaustive="yes")  # type: ignore[arg-type]


def test_cli_verify_negative_seed(capsys: pytest.CaptureFixture[str]) -> None:
    err = _usage_error(capsys, "verify", "bubble", "4", "--random", "--seed", "-1")
    assert "argument --seed: must be an integer >= 0, got '-1'" in err


def test_verify_model_bad_seed(model_path: Path) -> None:
    from sortnet.nn.checks import verify_model

    with pytest.raises(InputError, match="seed must be an integer >= 0, got -1"):
        verify_model(sortnet.load_model(model_path), seed=-1)


def test_cli_verify_recognises_model_files(
    model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["verify", str(model_path)]) == 0
    assert "exact within its contract" in capsys.readouterr().out
    err = _usage_error(capsys, "verify", str(model_path), "--k", "2")
    assert "--k does not apply to model files" in err


# -- the neural executor's input checks -----------------------------------------------------


def test_model_ragged_rows() -> None:
    model = compilers.compile(sortnet.network("bubble", 4))
    with pytest.raises(InputError, match=r"X must be a rectangular \(batch, 4\) array"):
        model([[1, 2, 3, 4], [1, 2]])


def test_model_unknown_dtype() -> None:
    model = compilers.compile(sortnet.network("bubble", 4))
    with pytest.raises(InputError, match="dtype must be float32 or float64, got 'foo'"):
        model(np.zeros((1, 4)), dtype="foo")


def test_model_value_past_float32_range() -> None:
    """A float64 value past float32's range is named, not reported as an infinity."""
    model = compilers.compile(sortnet.network("bubble", 4))
    with pytest.raises(InputError, match=r"X\[0, 3\] = 1e\+39 is outside the range of float32"):
        model(np.array([[1.0, 2.0, 3.0, 1e39]]), dtype=np.float32)


def test_error_bound_refuses_nan_and_bad_input() -> None:
    model = compilers.compile(sortnet.network("bubble", 4))
    with pytest.raises(InputError, match="X contains NaN or an infinity: there is no error bound"):
        model.error_bound(np.array([[np.nan, 1.0, 2.0, 3.0]]))
    with pytest.raises(InputError, match="X must hold real numbers, got dtype <U3"):
        model.error_bound("foo")
    with pytest.raises(InputError, match="X has width 5"):
        model.error_bound(np.zeros((1, 5)))


@pytest.mark.parametrize("bound", ["1", True])
def test_compile_bound_must_be_a_number(bound: object) -> None:
    with pytest.raises(SortnetError, match="bound must be a positive number, got"):
        compilers.compile(sortnet.network("bubble", 4), bound=bound)  # type: ignore[arg-type]


def test_load_model_not_a_path(tmp_path: Path) -> None:
    with pytest.raises(SortnetError, match="path must be a str or path, got NoneType"):
        sortnet.load_model(None)  # type: ignore[arg-type]
    with pytest.raises(SortnetError, match="is a directory, not a model file"):
        sortnet.load_model(tmp_path)


# -- CLI input files and text ---------------------------------------------------------------


def test_cli_run_one_dimensional_npy(
    model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "x.npy"
    np.save(path, np.array([3.0, 1.0, 2.0, 0.0]))
    err = _usage_error(capsys, "run", str(model_path), "--input", str(path))
    assert r"expected an array of shape (batch, n=4), got (4,)" in err


def test_cli_run_huge_integers_are_refused_not_rounded(
    model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """uint64 rows past 2**51: refused (float64 would round them), never printed as int64."""
    path = tmp_path / "x.npy"
    np.save(path, np.array([[2**64 - 1, 1, 2, 0]], dtype=np.uint64))
    err = _usage_error(capsys, "run", str(model_path), "--input", str(path))
    assert "X[0, 0] = 18446744073709551615 is an integer too large for an exact answer" in err
    np.save(path, np.array([[2.0**64, 1, 2, 0]]))  # as floats: accepted, rounding allowed
    assert main(["run", str(model_path), "--input", str(path)]) == 0
    out = capsys.readouterr().out
    assert "-9223372036854775808" not in out and "e+19" in out


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1 2 3 1e400", "line 1, column 4: 1e400 is too large for float64"),
        (
            "1 2 3 99999999999999999999999",
            "line 1, column 4: 99999999999999999999999 does not fit in int64 and is not exactly",
        ),
    ],
)
def test_cli_sort_text_that_would_change_value(
    text: str, message: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(text + "\n"))
    assert message in _usage_error(capsys, "sort", "bubble", "4")


def test_cli_sort_binary_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = io.TextIOWrapper(io.BytesIO(b"\x93NUMPY\xff\xfe\x00"), encoding="utf-8")
    monkeypatch.setattr("sys.stdin", stream)
    assert "the input is not text" in _usage_error(capsys, "sort", "bubble", "4")


def test_network_file_that_is_a_model(tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    compilers.compile(sortnet.network("bubble", 4)).save(path)
    with pytest.raises(NetworkFormatError, match=r"a zip archive \(a compiled model\?\), not a"):
        sortnet.load_network(path)


def test_network_file_that_is_an_npy(tmp_path: Path) -> None:
    path = tmp_path / "x.npy"
    np.save(path, np.zeros((2, 4)))
    with pytest.raises(NetworkFormatError, match="a numpy .npy array, not a network file"):
        sortnet.load_network(path)


def test_cli_compile_counting_with_optimize(capsys: pytest.CaptureFixture[str]) -> None:
    err = _usage_error(capsys, "compile", "counting", "4", "--optimize", "size", "-o", "x.npz")
    assert "--optimize applies to the 'best' family, not to 'counting'" in err


def test_cli_os_error_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An OSError the CLI does not name (here: a file where a folder should be) is one line."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    err = _usage_error(capsys, "demo", "--rows", "1", "--out", str(blocker / "sub"))
    assert "not a directory" in err

"""``sortnet verify`` and ``sortnet sort`` on the command line."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pytest

from sortnet.cli import main


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exit_:  # argparse's own usage errors
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code, out, err = _run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith("sortnet: error: ") and err.count("\n") == 1, err
    return err


def _stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(text))


# -- verify -------------------------------------------------------------------------------
def test_verify_family_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "verify", "bitonic", "16")
    assert code == 0 and err == ""
    assert out.startswith("bitonic 16: sorts (exhaustive proof, 2^16 inputs")
    assert "n=16 size=80" in out


def test_verify_json_keys(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "verify", "odd-even-merge", "8", "--json")
    record = json.loads(out)
    assert code == 0
    assert {"ok", "exhaustive", "checked", "counterexample", "elapsed"} <= set(record)
    assert record["ok"] is True and record["exhaustive"] is True and record["checked"] == 256
    assert record["counterexample"] is None


def test_verify_k_reports_pruned_size(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "verify", "odd-even-merge", "16", "--k", "min")
    assert code == 0 and "selects k=1" in out and "size=63 pruned to 15" in out
    code, out, _ = _run(capsys, "verify", "bubble", "8", "--k", "3", "--json")
    record = json.loads(out)
    assert code == 0 and record["k"] == 3 and record["pruned_size"] < record["size"]


def test_verify_broken_file_exits_1_with_counterexample(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "broken.txt"
    path.write_text("0:1 2:3 0:2 1:3\n")
    code, out, _ = _run(capsys, "verify", str(path))
    assert code == 1 and "FAILS: does not sort" in out and "counterexample: 0 1 0 1" in out
    code, out, _ = _run(capsys, "verify", str(path), "--json")
    assert code == 1 and json.loads(out)["counterexample"] == [0, 1, 0, 1]


def test_verify_several_files_prints_a_total(
    capsys: pytest.CaptureFixture[str], sorterhunter_dir: Path
) -> None:
    files = sorted(str(p) for p in (sorterhunter_dir / "sorters").glob("Sort_1?_*.json"))
    code, out, _ = _run(capsys, "verify", *files)
    lines = out.strip().splitlines()
    assert code == 0 and len(lines) == len(files) + 1
    assert lines[-1].startswith(f"total: {len(files)}/{len(files)} pass in ")
    code, out, _ = _run(capsys, "verify", *files[:2], "--json")
    assert code == 0 and len(json.loads(out)) == 2


def test_verify_random_is_labelled(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "verify", "best", "8", "--random", "--samples", "640")
    assert code == 0 and "RANDOMIZED, not a proof" in out
    code, out, _ = _run(capsys, "verify", "best", "8", "--exhaustive", "--json")
    assert json.loads(out)["exhaustive"] is True


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["bitonic", "8", "--k", "9"], r"k must be in 1..n=8, got 9"),
        (["bitonic", "8", "--k", "half"], r"--k must be an integer or median, min, max"),
        (["bitonic"], r"family 'bitonic' needs N"),
        (["bitonic", "8", "9"], r"FAMILY N takes two arguments, got 3"),
        (["no-such-file.json"], r"'no-such-file.json' is neither a network family"),
        (["bubble", "70", "--exhaustive"], r"exhaustive verification needs n <= 64"),
        (["bitonic", "8", "--samples", "0"], r"must be an integer >= 1, got '0'"),
        (["bitonic", "8", "--exhaustive", "--random"], r"not allowed with argument"),
    ],
)
def test_verify_usage_errors(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    err = _usage_error(capsys, "verify", *argv)
    assert re.search(message, err), err


def test_verify_mixing_files_and_a_family(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "a.txt"
    path.write_text("0:1\n")
    err = _usage_error(capsys, "verify", str(path), str(path), "bitonic")
    assert "give FAMILY N alone, not mixed with files: 'bitonic'" in err


# -- sort ---------------------------------------------------------------------------------
def test_sort_text_rows_from_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _stdin(monkeypatch, "3 1 2 9\n# comment\n\n4, -5, 6, 0\n")
    code, out, err = _run(capsys, "sort", "best", "4")
    assert code == 0 and err == "" and out == "1 2 3 9\n-5 0 4 6\n"


def test_sort_floats_and_k(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _stdin(monkeypatch, "0.5 -1e30 inf 2\n")
    code, out, _ = _run(capsys, "sort", "bitonic", "4")
    assert code == 0 and out == "-1e+30 0.5 2.0 inf\n"
    _stdin(monkeypatch, "5 1 4 2 3\n")
    code, out, _ = _run(capsys, "sort", "odd-even-merge", "5", "--k", "median")
    assert code == 0 and out == "3\n"


def test_sort_npy_round_trip_is_atomic(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    X = np.random.default_rng(0).standard_normal((50, 8)).astype(np.float32)
    np.save(tmp_path / "x.npy", X)
    out_path = tmp_path / "y.npy"
    code, out, _ = _run(
        capsys,
        "sort",
        "bitonic",
        "8",
        "--input",
        str(tmp_path / "x.npy"),
        "--output",
        str(out_path),
    )
    assert code == 0 and out == ""
    Y = np.load(out_path)
    assert Y.dtype == np.float32 and (np.sort(X, axis=1) == Y).all()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy", "y.npy"]  # no temp left


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1 2 3 4\n1 2 3\n", r"line 2: expected 4 numbers \(n=4\), got 3"),
        ("1 2 3 4\n\n1 2 x 4\n", r"line 3, column 3: 'x' is not a number"),
        ("1 nan 3 4\n", r"line 1, column 2: NaN cannot be sorted"),
    ],
)
def test_sort_bad_text(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, text: str, message: str
) -> None:
    _stdin(monkeypatch, text)
    err = _usage_error(capsys, "sort", "best", "4")
    assert re.search(message, err), err


def test_sort_bad_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    np.save(tmp_path / "wide.npy", np.zeros((2, 5)))
    err = _usage_error(capsys, "sort", "best", "4", "--input", str(tmp_path / "wide.npy"))
    assert "wide.npy: expected an array of shape (batch, n=4), got (2, 5)" in err
    np.save(tmp_path / "obj.npy", np.array([[1, "a"]], dtype=object), allow_pickle=True)
    err = _usage_error(capsys, "sort", "best", "2", "--input", str(tmp_path / "obj.npy"))
    assert "obj.npy: holds Python objects (needs pickle)" in err
    err = _usage_error(capsys, "sort", "best", "2", "--input", str(tmp_path / "missing.npy"))
    assert "no such file" in err
    np.save(tmp_path / "ok.npy", np.zeros((2, 2)))
    err = _usage_error(
        capsys, "sort", "best", "2", "--input", str(tmp_path / "ok.npy"), "--output", "y.txt"
    )
    assert "--output must end in .npy" in err
    missing_dir = str(tmp_path / "nope" / "y.npy")
    err = _usage_error(
        capsys, "sort", "best", "2", "--input", str(tmp_path / "ok.npy"), "--output", missing_dir
    )
    assert f"cannot write --output {missing_dir!r}: folder" in err and "does not exist" in err

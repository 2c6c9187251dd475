"""``sortnet list`` and ``sortnet info``: output, --json keys, exit codes, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import sortnet
from sortnet.circuit import kernels
from sortnet.cli import main

INFO_KEYS = ["family", "n", "size", "depth", "source", "comparators", "layers"]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code, out, err = _run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("sortnet: error: ")
    assert "Traceback" not in err
    return err


# -- list ----------------------------------------------------------------------------
def test_list_shows_every_family_with_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "list")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["family", "size@16", "depth@16"]
    rows = {line.split()[0]: line.split()[1:3] for line in lines[1:]}
    assert rows["bitonic"] == ["80", "10"]
    assert rows["odd-even-merge"] == ["63", "10"]
    assert rows["best"] == ["60", "10"]
    assert rows["selection"] == ["46", "12"]  # the lower median of 16
    assert len(rows) == 8


def test_list_json_at_another_n(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "list", "--n", "17", "--json")
    rows = json.loads(out)
    assert code == 0
    assert all(set(row) == {"family", "description", "n", "size", "depth"} for row in rows)
    by_name = {row["family"]: row for row in rows}
    assert by_name["bubble"]["size"] == 17 * 16 // 2
    assert by_name["best"]["size"] == 71  # Sort_17_71_12
    assert by_name["selection"]["size"] == 49  # Median_17_49_12


def test_list_bad_n(capsys: pytest.CaptureFixture[str]) -> None:
    err = _usage_error(capsys, "list", "--n", "zero")
    assert "N must be an integer >= 1, got 'zero'" in err


# -- info ----------------------------------------------------------------------------
def test_info_family_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "info", "odd-even-merge", "4")
    assert code == 0 and err == ""
    assert "family: odd-even-merge" in out and "size:   5" in out and "depth:  3" in out
    assert "1: (0,2) (1,3)" in out and "3: (1,2)" in out
    described = kernels.describe(sortnet.network("odd-even-merge", 4), "float32")
    assert f"kernel: {described} for float32 rows" in out  # which kernel sortnet.sort runs


def test_info_json_keys_and_values(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "info", "bitonic", "16", "--json")
    info = json.loads(out)
    assert code == 0 and list(info) == INFO_KEYS
    assert (info["family"], info["n"], info["size"], info["depth"]) == ("bitonic", 16, 80, 10)
    assert len(info["comparators"]) == 80 and len(info["layers"]) == 10
    assert sum(len(layer) for layer in info["layers"]) == 80


def test_info_best_optimize_depth(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _run(capsys, "info", "best", "16", "--optimize", "depth", "--json")
    info = json.loads(out)
    assert (info["size"], info["depth"]) == (61, 9)
    _, out, _ = _run(capsys, "info", "best", "16", "--optimize", "size", "--json")
    assert json.loads(out)["size"] == 60


def test_info_sorterhunter_file(capsys: pytest.CaptureFixture[str], sorterhunter_dir: Path) -> None:
    path = sorterhunter_dir / "sorters" / "Sort_28_155_14.json"
    code, out, _ = _run(capsys, "info", str(path), "--json")
    info = json.loads(out)
    assert code == 0 and list(info) == INFO_KEYS
    assert (info["family"], info["n"], info["size"], info["depth"]) == ("sorterhunter", 28, 155, 14)


def test_info_plain_list_file_with_n(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "pairs.txt"
    path.write_text("0:1 2:3 0:2 1:3 1:2\n")
    _, out, _ = _run(capsys, "info", str(path), "--json")
    assert json.loads(out)["n"] == 4
    _, out, _ = _run(capsys, "info", str(path), "6", "--json")
    assert json.loads(out)["n"] == 6


def test_info_saved_sortnet_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    import sortnet

    path = sortnet.save_network(sortnet.network("pairwise", 9), tmp_path / "pw9.json")
    _, out, _ = _run(capsys, "info", str(path), "--json")
    info = json.loads(out)
    assert (info["family"], info["n"], info["size"]) == (
        "pairwise",
        9,
        sortnet.network("pairwise", 9).size,
    )


# -- usage errors: exit 2, one line on stderr ------------------------------------------
def test_family_without_n(capsys: pytest.CaptureFixture[str]) -> None:
    err = _usage_error(capsys, "info", "bitonic")
    assert "family 'bitonic' needs N, the number of wires" in err


def test_bad_n(capsys: pytest.CaptureFixture[str]) -> None:
    assert "N must be an integer >= 1, got 'x'" in _usage_error(capsys, "info", "bubble", "x")
    assert "N must be an integer >= 1, got '0'" in _usage_error(capsys, "info", "bubble", "0")


def test_unknown_family_or_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    err = _usage_error(capsys, "info", "quick", "4")
    assert "'quick' is neither a network family (bubble, insertion" in err
    assert "nor an existing file" in _usage_error(capsys, "info", "missing.json")


def test_optimize_on_the_wrong_family(capsys: pytest.CaptureFixture[str]) -> None:
    err = _usage_error(capsys, "info", "bubble", "4", "--optimize", "depth")
    assert "--optimize applies to the 'best' family, not to 'bubble'" in err


def test_optimize_on_a_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "pairs.txt"
    path.write_text("0:1")
    err = _usage_error(capsys, "info", str(path), "--optimize", "size")
    assert "--optimize applies to the 'best' family, not to a file" in err


def test_best_too_large(capsys: pytest.CaptureFixture[str]) -> None:
    err = _usage_error(capsys, "info", "best", "65")
    assert "no best-known network for n=65" in err and "only n <= 64" in err


def test_info_selection(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _run(capsys, "info", "selection", "25", "--k", "median", "--json")
    info = json.loads(out)
    assert (info["family"], info["size"], info["source"]) == (
        "selection",
        85,
        "Median_25_85_16 (SorterHunter)",
    )
    _, out, _ = _run(capsys, "info", "best", "48", "--optimize", "depth", "--json")
    assert (json.loads(out)["size"], json.loads(out)["depth"]) == (347, 18)
    assert "needs N and --k" in _usage_error(capsys, "info", "selection", "25")
    assert "k must be in 1..n=10, got 11" in _usage_error(
        capsys, "info", "selection", "10", "--k", "11"
    )
    assert "--k applies to 'selection N --k K'" in _usage_error(
        capsys, "info", "best", "8", "--k", "3"
    )


def test_malformed_file_names_the_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "Sort_3_9_9.json"
    path.write_text('{"N": 3, "L": 9, "D": 9, "nw": [[0, 1]]}')
    err = _usage_error(capsys, "info", str(path))
    assert f"{path}: field L says size 9 but the network has 1" in err


def test_bad_optimize_choice_is_an_argparse_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "best", "8", "--optimize", "speed"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "invalid choice: 'speed'" in err

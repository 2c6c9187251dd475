"""``sortnet demo`` runs the whole pipeline and reports every check."""

from __future__ import annotations

from sortnet.cli import main


def test_demo_runs_every_stage(tmp_path, capsys):
    out = tmp_path / "diagrams"
    code = main(["demo", "--n", "6", "--rows", "2000", "--out", str(out)])
    stdout = capsys.readouterr().out
    assert code == 0
    assert "exhaustive 0-1 proof" in stdout
    assert "equal to np.sort: True" in stdout
    assert "within stated bound: True" in stdout
    assert "x np.sort" in stdout
    assert "all checks passed" in stdout
    assert {path.stem for path in out.iterdir()} == {"graph", "wires", "layers"}


def test_demo_rejects_bad_row_count(capsys):
    assert main(["demo", "--rows", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--rows: must be an integer >= 1, got '0'" in err


def test_demo_bad_family_is_one_line(capsys):
    code = main(["demo", "--family", "quicksort"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "unknown family 'quicksort'; known families: bubble" in err

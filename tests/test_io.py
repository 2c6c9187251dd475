"""Import and export: SorterHunter JSON, plain comparator lists, sortnet JSON."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

import sortnet
from sortnet import Network, NetworkFormatError, SortnetError
from sortnet.io import load_network, save_network

PAIRS = [(0, 1), (2, 3), (0, 2), (1, 3), (1, 2)]


def _stem_numbers(path: Path) -> tuple[int, int, int]:
    n, size, depth = (int(v) for v in path.stem.split("_")[1:])
    return n, size, depth


# -- SorterHunter -------------------------------------------------------------------------
def test_every_sorterhunter_sorter_loads_with_its_n_size_depth(sorterhunter_dir: Path) -> None:
    files = sorted((sorterhunter_dir / "sorters").glob("Sort_*.json"))
    assert len(files) >= 20
    for path in files:
        net = load_network(path)
        data = json.loads(path.read_text())
        assert (net.n, net.size, net.depth) == _stem_numbers(path), path.name
        assert (net.n, net.size, net.depth) == (data["N"], data["L"], data["D"]), path.name
        assert net.comparators == [tuple(pair) for pair in data["nw"]]
        assert net.name == path.stem and net.graph.graph["family"] == "sorterhunter"
        assert net.graph.graph["symmetric"] == data["symmetric"]


def test_every_sorterhunter_median_loads(sorterhunter_dir: Path) -> None:
    for path in sorted((sorterhunter_dir / "median").glob("Median_*.json")):
        assert (lambda net: (net.n, net.size, net.depth))(load_network(path)) == _stem_numbers(path)


def test_sorterhunter_path_given_as_str(sorterhunter_dir: Path) -> None:
    net = sortnet.load_network(str(sorterhunter_dir / "sorters" / "Sort_16_60_10.json"))
    assert (net.n, net.size, net.depth) == (16, 60, 10)


def test_sorterhunter_text() -> None:
    text = json.dumps({"N": 4, "L": 5, "D": 3, "symmetric": True, "nw": [list(p) for p in PAIRS]})
    assert load_network(text).comparators == PAIRS


# -- plain comparator lists --------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "[(0,1),(2,3),(0,2),(1,3),(1,2)]",
        "[[0, 1], [2, 3], [0, 2], [1, 3], [1, 2]]",
        "0:1 2:3 0:2 1:3 1:2",
        "0:1, 2:3, 0:2, 1:3, 1:2",
        "0:1\n2:3\n0:2\n1:3\n1:2\n",
        "0 1\n2 3\n0 2\n1 3\n1 2",
        "0,1\n2,3\n0,2\n1,3\n1,2",
        "[(0,1),(2,3)]\n[(0,2),(1,3)]\n[(1,2)]",
        "# a comment\n(0, 1); (2, 3)  # two at once\n(0, 2) (1, 3) (1, 2)",
    ],
)
def test_plain_list_formats(text: str) -> None:
    net = load_network(text)
    assert net.comparators == PAIRS
    assert net.n == 4 and net.graph.graph["family"] == "comparator-list"


def test_plain_list_n_override_and_empty_list() -> None:
    assert load_network("0:1", n=5).n == 5
    empty = load_network("[]", n=3)
    assert (empty.n, empty.size) == (3, 0)


def test_plain_list_descending_comparator_is_standardized() -> None:
    net = load_network("[(1,0)]")
    assert net.comparators == [(0, 1)] and net.output_wires == [1, 0]


def test_plain_list_file_keeps_its_stem(tmp_path: Path) -> None:
    path = tmp_path / "four.txt"
    path.write_text("0:1 2:3 0:2 1:3 1:2\n")
    net = load_network(path)
    assert net.name == "four" and net.comparators == PAIRS


# -- sortnet JSON round trip ----------------------------------------------------------
@pytest.mark.parametrize("family", sortnet.list_families())
@pytest.mark.parametrize("descending", [False, True])
def test_round_trip_every_family(tmp_path: Path, family: str, descending: bool) -> None:
    net = sortnet.network(family, 11, descending=descending)
    path = save_network(net, tmp_path / "net.json")
    back = load_network(path)
    assert back == net
    assert dict(back.graph.graph) == dict(net.graph.graph)
    assert back.outputs == net.outputs


def test_round_trip_keeps_relabelled_and_partial_outputs(tmp_path: Path) -> None:
    for net in (
        Network.from_comparators(3, [(2, 0), (1, 2)], name="flipped"),
        Network.from_comparators(5, PAIRS, outputs=[2], k=3),
    ):
        back = load_network(sortnet.save_network(net, tmp_path / "x.json"))
        assert back == net and back.outputs == net.outputs
        assert dict(back.graph.graph) == dict(net.graph.graph)


def test_saved_document_is_the_documented_format(tmp_path: Path) -> None:
    path = sortnet.save_network(sortnet.network("odd-even-merge", 4), tmp_path / "oem4.json")
    doc = json.loads(path.read_text())
    assert doc["format"] == "sortnet-network" and doc["version"] == 1
    assert (doc["n"], doc["size"], doc["depth"]) == (4, 5, 3)
    assert doc["name"] == "odd-even-merge-4" and doc["family"] == "odd-even-merge"
    assert doc["comparators"] == [[0, 2], [1, 3], [0, 1], [2, 3], [1, 2]]
    assert doc["outputs"] == [[0, 0], [1, 1], [2, 2], [3, 3]] and doc["descending"] is False


def test_sortnet_json_without_outputs_uses_from_comparators() -> None:
    text = json.dumps({"format": "sortnet-network", "version": 1, "n": 2, "comparators": [[1, 0]]})
    net = load_network(text)
    assert net.comparators == [(0, 1)] and net.output_wires == [1, 0]


def test_save_is_atomic_and_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "net.json"
    path.write_text("old contents")
    save_network(sortnet.network("bubble", 3), path)
    save_network(sortnet.network("bubble", 5), os.fspath(path))
    assert load_network(path).n == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.json"]  # no temp file left


def test_save_into_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(SortnetError, match="cannot write network .*net.json': folder .*missing'"):
        save_network(sortnet.network("bubble", 3), tmp_path / "missing" / "net.json")


def test_save_needs_a_network(tmp_path: Path) -> None:
    with pytest.raises(SortnetError, match="save_network writes comparator networks only"):
        save_network([(0, 1)], tmp_path / "x.json")  # type: ignore[arg-type]


def test_no_pickle_anywhere() -> None:
    package = Path(sortnet.__file__).parent
    modules = sorted([*package.glob("io/*.py"), *package.glob("generators/*.py")])
    assert len(modules) >= 10
    for module in modules:
        source = module.read_text()
        assert not re.search(r"^\s*(import|from)\s+(c?pickle|shelve|marshal)\b", source, re.M)


# -- path or text ---------------------------------------------------------------------
def test_missing_file_says_no_such_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such file: 'Sort_99_1_1.json'"):
        load_network("Sort_99_1_1.json")
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_network(tmp_path / "absent.txt")


def test_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError, match="is a directory"):
        load_network(tmp_path)


def test_source_of_the_wrong_type() -> None:
    with pytest.raises(SortnetError, match="source must be a path or text, got int"):
        load_network(42)  # type: ignore[arg-type]


# -- malformed input: one test per problem, each message names the file -----------------
def _write(tmp_path: Path, text: str, name: str = "bad.json") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _raises(path_or_text: object, pattern: str, **kwargs: object) -> None:
    with pytest.raises(NetworkFormatError, match=pattern):
        load_network(path_or_text, **kwargs)  # type: ignore[arg-type]


def test_bad_json_reports_line_and_column(tmp_path: Path) -> None:
    path = _write(tmp_path, '{\n  "N": 2,\n  "nw": [[0, 1]\n}')
    _raises(path, rf"{re.escape(str(path))}: bad JSON at line 4, column 1: ")


def test_missing_field(tmp_path: Path) -> None:
    _raises(_write(tmp_path, '{"N": 2, "L": 1, "D": 1}'), r"bad\.json: missing field 'nw'")
    _raises(_write(tmp_path, '{"nw": [[0, 1]]}'), r"bad\.json: missing field 'N'")
    doc = '{"format": "sortnet-network", "version": 1, "n": 2}'
    _raises(_write(tmp_path, doc), r"bad\.json: missing field 'comparators'")


def test_size_mismatch(tmp_path: Path) -> None:
    path = _write(tmp_path, '{"N": 2, "L": 2, "D": 1, "nw": [[0, 1]]}', "Sort_2_2_1.json")
    _raises(path, r"Sort_2_2_1\.json: field L says size 2 but the network has 1")


def test_depth_mismatch(tmp_path: Path) -> None:
    path = _write(tmp_path, '{"N": 3, "L": 2, "D": 1, "nw": [[0, 1], [1, 2]]}')
    _raises(path, r"bad\.json: field D says depth 1 but the network has 2")


def test_sortnet_json_size_mismatch(tmp_path: Path) -> None:
    doc = {"format": "sortnet-network", "version": 1, "n": 2, "comparators": [[0, 1]], "depth": 4}
    _raises(
        _write(tmp_path, json.dumps(doc)), r"bad\.json: field 'depth' says 4 but the network has 1"
    )


def test_wire_out_of_range(tmp_path: Path) -> None:
    path = _write(tmp_path, '{"N": 3, "nw": [[0, 1], [1, 3]]}')
    _raises(path, r"bad\.json: nw: comparator 1 \(1, 3\): wire 3 out of range \[0, 3\)")
    _raises("0:1 1:7", r"<text>: comparator 1 \(1, 7\): wire 7 out of range \[0, 4\)", n=4)


def test_negative_wire() -> None:
    _raises("[(0,-1)]", r"wire -1 out of range")


def test_non_integer_wire_in_json(tmp_path: Path) -> None:
    _raises(
        _write(tmp_path, '{"N": 3, "nw": [[0, "1"]]}'),
        r"nw\[0\] \[0, '1'\]: wire '1' is not an integer",
    )
    _raises(_write(tmp_path, '{"N": 3, "nw": [[0, 1.0]]}'), r"wire 1\.0 is not an integer")


def test_non_integer_wire_in_text(tmp_path: Path) -> None:
    _raises(
        _write(tmp_path, "[(0,1),(1,x)]", "pairs.txt"),
        r"pairs\.txt: pair 2 \(1,x\): wire 'x' is not an integer",
    )
    _raises("0:1 1:2.5", r"<text>: pair 2 1:2\.5: wire '2\.5' is not an integer")


def test_pair_that_is_not_a_pair(tmp_path: Path) -> None:
    _raises(
        _write(tmp_path, '{"N": 3, "nw": [[0, 1, 2]]}'),
        r"nw\[0\] \[0, 1, 2\] is not an \[i, j\] pair",
    )
    _raises(
        _write(tmp_path, '{"N": 3, "nw": "0:1"}'), r"field 'nw' must be a list of \[i, j\] pairs"
    )


def test_comparator_on_one_wire() -> None:
    _raises("[(1,1)]", r"comparator 0 \(1, 1\): i == j")


def test_bad_wire_count_field(tmp_path: Path) -> None:
    _raises(_write(tmp_path, '{"N": 0, "nw": []}'), r"field 'N' must be an integer >= 1, got 0")


def test_n_disagrees_with_file(tmp_path: Path) -> None:
    _raises(
        _write(tmp_path, '{"N": 2, "nw": [[0, 1]]}'), r"n=3 was given but the file says N=2", n=3
    )


def test_bad_n_argument() -> None:
    with pytest.raises(SortnetError, match="n must be an integer >= 1, got 0"):
        load_network("0:1", n=0)


def test_unexpected_text(tmp_path: Path) -> None:
    path = _write(tmp_path, "0:1 2:3\n1:2 oops", "net.txt")
    _raises(path, r"net\.txt: unexpected 'oops' at line 2, column 5")


def test_empty_text_needs_n(tmp_path: Path) -> None:
    _raises(_write(tmp_path, "\n", "empty.txt"), r"empty\.txt: no comparators found")


def test_unrecognised_json_object() -> None:
    _raises('{"wires": 3}', r"unrecognised JSON: expected sortnet JSON")


def test_wrong_format_and_version() -> None:
    _raises('{"format": "other"}', r"format 'other' is not 'sortnet-network'")
    doc = '{"format": "sortnet-network", "version": 9, "n": 2, "comparators": []}'
    _raises(doc, r"unsupported sortnet-network version 9")


def test_bad_outputs_and_descending() -> None:
    base = {"format": "sortnet-network", "version": 1, "n": 2, "comparators": [[0, 1]]}
    _raises(
        json.dumps({**base, "outputs": [[0, 5]]}),
        r"field 'outputs' must list \[position, wire\] pairs",
    )
    _raises(json.dumps({**base, "descending": "no"}), r"field 'descending' must be true or false")
    backwards = {**base, "comparators": [[1, 0]], "outputs": [[0, 0], [1, 1]]}
    _raises(json.dumps(backwards), r"comparator 0 \[1, 0\]: needs i < j when 'outputs' is given")


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "binary.json"
    path.write_bytes(b"\xff\xfe\x00")
    _raises(path, r"binary\.json: not a UTF-8 text file")

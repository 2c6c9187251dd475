"""Diagrams: structure of each style, golden DOT files, file output, the gallery, the CLI."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from itertools import pairwise
from pathlib import Path

import pytest

import compilers
import sortnet
from sortnet import Network
from sortnet.cli import main
from sortnet.draw import DrawingError, draw, repr_svg, save_drawing
from sortnet.draw import _common as common
from sortnet.draw.gallery import entries, write_gallery
from sortnet.draw.wires import subcolumns

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).resolve().parent / "golden"
HAS_DOT = shutil.which("dot") is not None and shutil.which("neato") is not None
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="Graphviz programs (dot, neato) not installed")

# Fixed comparator lists, so the golden files do not move with the generators.
BUBBLE4 = [(0, 1), (1, 2), (2, 3), (0, 1), (1, 2), (0, 1)]
MERGE4 = [(0, 1), (2, 3), (0, 2), (1, 3), (1, 2)]


def node_ids(source: str) -> list[str]:
    """Ids of the nodes defined in a DOT text (lines ``id [attrs]``), in order."""
    return re.findall(r"^\s*([A-Za-z_][\w]*) \[", source, flags=re.MULTILINE)


def module_wires(source: str) -> dict[int, tuple[int, int]]:
    """S-number -> (top wire, bottom wire), 1-based, from the graph style's module tables."""
    found = {}
    for number, top, bottom in re.findall(
        r'^\s*S(\d+) \[label=<<TABLE.*?PORT="a"><FONT POINT-SIZE="8">(\d+)</FONT>'
        r'.*?PORT="b"><FONT POINT-SIZE="8">(\d+)</FONT>',
        source,
        flags=re.MULTILINE,
    ):
        found[int(number)] = (int(top), int(bottom))
    return found


# -- graph style ------------------------------------------------------------------------
@pytest.mark.parametrize(("pairs", "modules"), [(BUBBLE4, 6), (MERGE4, 5)])
def test_graph_has_inputs_modules_outputs(pairs, modules):
    source = draw(Network.from_comparators(4, pairs)).source
    ids = node_ids(source)
    assert sorted(i for i in ids if re.fullmatch(r"x\d+", i)) == ["x1", "x2", "x3", "x4"]
    assert sorted(i for i in ids if re.fullmatch(r"y\d+", i)) == ["y1", "y2", "y3", "y4"]
    numbers = sorted({int(i[1:]) for i in ids if re.fullmatch(r"S\d+", i)})
    assert numbers == list(range(1, modules + 1))


def test_generated_bubble_and_merge_have_6_and_5_modules():
    for family, modules in (("bubble", 6), ("odd-even-merge", 5)):
        assert len(module_wires(draw(sortnet.network(family, 4)).source)) == modules


@pytest.mark.parametrize("family", sortnet.list_families())
def test_modules_are_numbered_in_layer_order_top_wire_first(family):
    net = sortnet.network(family, 8)
    expected = [(i + 1, j + 1) for layer in net.layers() for i, j in sorted(layer)]
    wires = module_wires(draw(net).source)
    assert [wires[s] for s in range(1, net.size + 1)] == expected


def test_each_layer_is_one_rank_in_module_order():
    net = sortnet.network("bitonic", 8)
    source = draw(net).source
    ranks = re.findall(r"subgraph rank(\d+) \{(.*?)\}", source, flags=re.DOTALL)
    layer_sizes = [len(layer) for layer in net.layers()]
    members = [re.findall(r"^\s*(S\d+)$", body, flags=re.MULTILINE) for _, body in ranks]
    assert [len(m) for m in members[1:-1]] == layer_sizes
    flat = [int(s[1:]) for m in members for s in m]
    assert flat == sorted(flat)


def brute_force_cone(net: Network, k: int) -> set[int]:
    """Comparators output k depends on: scan backwards from its wire."""
    needed = {net.outputs[k - 1]}
    cone = set()
    for index in reversed(range(net.size)):
        i, j = net.comparators[index]
        if i in needed or j in needed:
            cone.add(index)
            needed |= {i, j}
    return cone


@pytest.mark.parametrize(
    ("family", "n", "k"), [("bubble", 4, 3), ("bitonic", 8, 1), ("best", 8, 5)]
)
def test_k_highlights_exactly_the_cone(family, n, k):
    net = sortnet.network(family, n)
    number, _ = common.module_numbers(net)
    expected = {f"S{number[c]}" for c in brute_force_cone(net, k)}
    source = draw(net, k=k).source
    lit = set(
        re.findall(rf'^\s*(S\d+) \[label=<<TABLE[^\n]*COLOR="{common.HIGHLIGHT}"', source, re.M)
    )
    assert lit == expected and expected
    if family != "bubble":
        assert len(lit) < net.size  # a real cone, not everything
    wires = draw(net, style="wires", k=k).source
    lit_wires = re.findall(rf"^\s*c(\d+)w\d+ \[color=\"{common.HIGHLIGHT}\"", wires, re.M)
    assert {int(c) for c in lit_wires} == brute_force_cone(net, k)


# -- wires style ------------------------------------------------------------------------
def positions(source: str) -> dict[str, tuple[float, float]]:
    return {
        name: (float(x), float(y))
        for name, x, y in re.findall(r'^\s*(\w+) \[.*?pos="([-\d.]+),([-\d.]+)!"', source, re.M)
    }


@pytest.mark.parametrize(("family", "n"), [("bitonic", 16), ("best", 16), ("odd-even-merge", 32)])
def test_wire_diagram_lines_never_overlap_and_layers_are_columns(family, n):
    net = sortnet.network(family, n)
    pos = positions(draw(net, style="wires").source)
    _, layer_of = common.module_numbers(net)
    spans: dict[float, list[tuple[float, float]]] = {}
    xs_by_layer: dict[int, list[float]] = {}
    for index, (i, j) in enumerate(net.comparators):
        (x1, y1), (x2, y2) = pos[f"c{index}w{i}"], pos[f"c{index}w{j}"]
        assert x1 == x2 and y1 > y2  # vertical, top wire above
        spans.setdefault(x1, []).append((y2, y1))
        xs_by_layer.setdefault(layer_of[index], []).append(x1)
    for column in spans.values():
        column.sort()
        for (_, top), (bottom, _) in pairwise(column):
            assert top < bottom  # disjoint vertical spans in one sub-column
    ranges = [(min(xs), max(xs)) for _, xs in sorted(xs_by_layer.items())]
    for (_, right), (left, _) in pairwise(ranges):
        assert right < left  # layers are separate columns, left to right


def test_subcolumns_split_overlapping_comparators():
    assert subcolumns([(0, 3), (1, 2)]) == [[(0, 3)], [(1, 2)]]
    assert subcolumns([(0, 1), (2, 3), (4, 5)]) == [[(0, 1), (2, 3), (4, 5)]]


def test_wires_refuses_counting_networks():
    from sortnet.generators.counting import counting_network

    with pytest.raises(DrawingError, match="counting network has no wire diagram"):
        draw(counting_network(3), style="wires")


# -- layers and counting ----------------------------------------------------------------
def test_layers_sort2_units_and_weights():
    drawing = draw(compilers.compile(Network.from_comparators(2, [(0, 1)]), "abs"), style="layers")
    source = drawing.source
    assert "|z|" in source and ">id<" in source.replace("<id>", ">id<")
    # 4 + 4 non-zero weights, each an edge with its value.
    labels = re.findall(r'-> \w+ \[[^\]]*label="?(-?[\d.]+)"?', source)
    assert sorted(labels) == sorted(["0.5", "-0.5", "0.5", "0.5", "-1", "1", "1", "1"])


def test_layers_with_k_draws_w3_and_its_cone():
    model = compilers.compile(Network.from_comparators(4, MERGE4), "abs")
    source = draw(model, style="layers", k=3).source
    assert "W3 [" in source
    assert re.search(r"y3 -> W3 \[[^\]]*label=1", source)
    assert not re.search(r"y[124] -> W3", source)
    assert f'y3 [label=<x<SUP>(3)</SUP>> color="{common.HIGHLIGHT}"' in source
    assert f'y1 [label=<x<SUP>(1)</SUP>> color="{common.MUTED}"' in source


def test_layers_summarise_wide_columns():
    source = draw(compilers.compile(sortnet.network("bitonic", 16), "relu"), style="layers").source
    assert re.search(r'summary\d+ \[label="\d+ units \(ReLU ×\d+', source)
    assert "×" in source  # merged edges are counted


def test_counting_network_has_threshold_rank_indicator_select_units():
    from sortnet.generators.counting import counting_network

    source = draw(counting_network(4, k=3)).source
    assert len(re.findall(r"^\s*b\d_\d \[", source, re.M)) == 12
    assert len(re.findall(r"^\s*r\d \[", source, re.M)) == 4
    assert len(re.findall(r"^\s*g\d_3 \[", source, re.M)) == 4
    assert "s3 [" in source and "y3 [label=<x<SUP>(3)</SUP>>" in source
    model_source = draw(compilers.compile(counting_network(4, k=3)), style="layers").source
    assert "1[z≥0]" in model_source and "1[|z|≤1]" in model_source


# -- errors -------------------------------------------------------------------------------
def test_layers_of_a_network_says_to_compile_first():
    # The renderer draws what it is handed; compiling is the caller's job.
    with pytest.raises(DrawingError, match=r"compile the network first: draw\(compilers.compile"):
        draw(Network.from_comparators(2, [(0, 1)]), style="layers")


def test_bad_inputs_have_clear_messages():
    net = Network.from_comparators(4, MERGE4)
    with pytest.raises(DrawingError, match="unknown style 'circles'"):
        draw(net, style="circles")
    with pytest.raises(DrawingError, match=r"k=5 is not an output of this network \(outputs: 1"):
        draw(net, k=5)
    with pytest.raises(DrawingError, match="k must be an integer, got '2'"):
        draw(net, k="2")
    with pytest.raises(DrawingError, match="cannot draw a str"):
        draw("bubble")
    import compilers

    model = compilers.compile(net, lowering="abs", k=2)
    with pytest.raises(DrawingError, match="k-th smallest for k = 2; cannot draw k=3"):
        draw(model, k=3)
    with pytest.raises(DrawingError, match="draws networks; a compiled model has 'layers'"):
        draw(model, style="wires")


# -- golden DOT files ----------------------------------------------------------------------
def golden_cases() -> dict[str, object]:
    import compilers

    merge = Network.from_comparators(4, MERGE4, name="merge-4")
    sort2 = Network.from_comparators(2, [(0, 1)], name="Sort_2")
    return {
        "merge-4-graph": draw(merge),
        "merge-4-k3-graph": draw(merge, k=3),
        "bubble-4-wires": draw(Network.from_comparators(4, BUBBLE4, name="bubble-4"), "wires"),
        "sort2-layers-k2": draw(compilers.compile(sort2, lowering="abs"), "layers", k=2),
    }


@pytest.mark.parametrize("name", ["merge-4-graph", "merge-4-k3-graph", "bubble-4-wires",
                                  "sort2-layers-k2"])  # fmt: skip
def test_golden_dot(name):
    """Set SORTNET_UPDATE_GOLDEN=1 to rewrite tests/golden after an intended change."""
    source = golden_cases()[name].source  # type: ignore[attr-defined]
    path = GOLDEN / f"{name}.dot"
    if os.environ.get("SORTNET_UPDATE_GOLDEN"):
        path.write_text(source, encoding="utf-8")
    assert source == path.read_text(encoding="utf-8")


def test_dot_is_deterministic_across_processes():
    code = "import sortnet; print(sortnet.draw(sortnet.network('pairwise', 8), 'wires').source)"
    runs = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    }  # fmt: skip
    assert len(runs) == 1


# -- files ---------------------------------------------------------------------------------
def test_save_dot_works_without_graphviz_programs(tmp_path, monkeypatch):
    monkeypatch.setattr(common.shutil, "which", lambda name: None)
    net = Network.from_comparators(4, MERGE4)
    out = save_drawing(draw(net), tmp_path / "merge.dot")
    assert out.read_text().startswith("digraph")
    with pytest.raises(DrawingError, match=r"'dot' is not installed \(apt-get install graphviz"):
        save_drawing(draw(net), tmp_path / "merge.svg")
    assert not (tmp_path / "merge.svg").exists()


def test_save_rejects_unknown_suffix(tmp_path):
    with pytest.raises(DrawingError, match=r"unknown suffix '.jpeg' \(use .dot, .gv, .svg"):
        save_drawing(draw(Network.from_comparators(2, [(0, 1)])), tmp_path / "x.jpeg")


@needs_dot
@pytest.mark.parametrize("style", ["graph", "wires", "layers"])
def test_svg_parses_as_xml(tmp_path, style):
    net = sortnet.network("odd-even-merge", 8)
    drawn = compilers.compile(net, "abs") if style == "layers" else net
    out = save_drawing(draw(drawn, style=style), tmp_path / "x.svg")
    root = ET.parse(out).getroot()
    assert root.tag.endswith("svg")
    assert not list(tmp_path.glob(".*.tmp"))  # the temporary file was renamed


@needs_dot
def test_png_pdf_and_repr_svg(tmp_path):
    drawing = draw(Network.from_comparators(2, [(0, 1)]))
    assert save_drawing(drawing, tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"
    assert save_drawing(drawing, tmp_path / "a.pdf").read_bytes()[:4] == b"%PDF"
    svg = repr_svg(sortnet.network("bubble", 4))
    assert svg is not None and ET.fromstring(svg.split("-->", 2)[-1].strip()).tag.endswith("svg")
    import compilers

    assert "<svg" in repr_svg(compilers.compile(sortnet.network("bubble", 3)))


def test_sortnet_import_does_not_import_graphviz():
    code = "import sys, sortnet; sortnet.network('bubble', 4); print('graphviz' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


# -- gallery -------------------------------------------------------------------------------
def test_gallery_is_up_to_date(tmp_path):
    """Fails when diagrams/ is stale: run `python -m sortnet.draw.gallery`."""
    write_gallery(tmp_path, images=False)
    fresh = {p.name for p in tmp_path.iterdir()}
    checked_in = {p.name for p in (ROOT / "diagrams").glob("*.dot")} | {"README.md"}
    assert fresh == checked_in, "run: python -m sortnet.draw.gallery"
    stale = [
        name
        for name in sorted(fresh)
        if (tmp_path / name).read_text() != (ROOT / "diagrams" / name).read_text()
    ]
    assert not stale, f"stale diagrams {stale}: run python -m sortnet.draw.gallery"
    missing_svg = [e.stem for e in entries() if not (ROOT / "diagrams" / f"{e.stem}.svg").exists()]
    assert not missing_svg


def test_gallery_readme_shows_every_image():
    readme = (ROOT / "diagrams" / "README.md").read_text()
    for entry in entries():
        assert f"]({entry.stem}.svg)" in readme
    assert "| ![bubble, n = 4](bubble-4-graph.svg) |" in readme


# -- command line --------------------------------------------------------------------------
def run_cli(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


def test_cli_writes_dot_and_images(tmp_path, capsys):
    code, _ = run_cli(capsys, "draw", "bubble", "4", "-o", str(tmp_path / "b.dot"))
    assert code == 0 and len(module_wires((tmp_path / "b.dot").read_text())) == 6
    code, _ = run_cli(capsys, "draw", "counting", "4", "--k", "3", "-o", str(tmp_path / "c.gv"))
    assert code == 0 and "indicator" in (tmp_path / "c.gv").read_text()
    code, _ = run_cli(
        capsys, "draw", "odd-even-merge", "4", "--style", "layers", "--k", "3",
        "--lowering", "relu", "-o", str(tmp_path / "m.dot"),
    )  # fmt: skip
    assert code == 0 and "W3" in (tmp_path / "m.dot").read_text()
    if HAS_DOT:
        code, _ = run_cli(capsys, "draw", "bitonic", "8", "--style", "wires",
                          "-o", str(tmp_path / "w.svg"))  # fmt: skip
        assert code == 0 and ET.parse(tmp_path / "w.svg").getroot().tag.endswith("svg")


def test_cli_draws_a_saved_model(tmp_path, capsys):
    import compilers

    compilers.compile(sortnet.network("bubble", 3), lowering="abs").save(tmp_path / "m.npz")
    code, _ = run_cli(capsys, "draw", str(tmp_path / "m.npz"), "-o", str(tmp_path / "m.dot"))
    assert code == 0 and "|z|" in (tmp_path / "m.dot").read_text()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["bubble", "4", "--style", "circles", "-o", "x.svg"], "unknown style 'circles'"),
        (["bubble", "4", "-o", "x.jpeg"], "unknown suffix '.jpeg'"),
        (["no/such/net.json", "-o", "x.svg"], "neither a network family .* nor an existing file"),
        (["no/such/model.npz", "-o", "x.svg"], "no such file: no/such/model.npz"),
        (["counting", "-o", "x.dot"], "'counting' needs N"),
        (["bubble", "4", "--k", "9", "-o", "x.dot"], "k=9 is not an output"),
        (["bubble", "4", "--lowering", "relu", "-o", "x.dot"], "--lowering applies to --style"),
    ],
)
def test_cli_errors_are_one_line_exit_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, err = run_cli(capsys, "draw", *argv)
    assert code == 2
    assert err.count("\n") == 1 and re.search(message, err)
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_cli_without_graphviz_writes_dot_and_says_how(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(common.shutil, "which", lambda name: None)
    code, err = run_cli(capsys, "draw", "bubble", "4", "-o", str(tmp_path / "b.svg"))
    assert code == 2 and err.count("\n") == 1
    assert "apt-get install graphviz / brew install graphviz" in err
    assert (tmp_path / "b.dot").exists() and not (tmp_path / "b.svg").exists()

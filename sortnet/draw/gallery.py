"""The diagram gallery in ``diagrams/``: regenerate it with one command.

::

    python -m sortnet.draw.gallery            # writes ./diagrams (DOT, SVG, README.md)
    python -m sortnet.draw.gallery some/dir   # anywhere else

Every diagram is written as DOT (the checked-in source of truth, deterministic)
and SVG (when Graphviz is installed). ``diagrams/README.md`` shows them inline
with captions. ``tests/test_draw.py`` regenerates the DOT files and the README
into a temporary folder and fails when ``diagrams/`` differs: rerun this command
after changing a renderer, a generator or a compiler.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from sortnet.draw._common import INSTALL_HINT, has_engine, save_drawing

#: Where the gallery lives, relative to the repository root.
DEFAULT_DIRECTORY = Path("diagrams")


@dataclass(frozen=True)
class Entry:
    """One diagram: file stem, README section and caption, and how to build it."""

    stem: str
    section: str
    caption: str
    build: Callable[[], Any]


def entries() -> list[Entry]:
    """Every diagram of the gallery, in README order.

    Examples
    --------
    >>> stems = [entry.stem for entry in entries()]
    >>> "bubble-4-graph" in stems and "odd-even-merge-4-graph" in stems
    True
    """
    import sortnet

    families = sortnet.list_families()
    found = [
        Entry("sort2-graph", "Sort_2", "Sort_2: one module, min on the top wire.", _sort2),
        Entry(
            "sort2-layers",
            "Sort_2",
            "Sort_2 compiled (abs lowering): hidden units |z| and id, then min and max.",
            partial(_sort2, style="layers"),
        ),
    ]
    found += [
        Entry(
            f"{family}-4-graph",
            "Computation graphs, n = 4",
            f"{family}, n = 4: inputs -> Sort_2 modules by layer -> sorted outputs.",
            partial(_family, family, 4),
        )
        for family in families
    ]
    found += [
        Entry(
            f"{family}-{n}-wires",
            f"Wire diagrams, n = {n}",
            f"{family}, n = {n}.",
            partial(_family, family, n, "wires"),
        )
        for n in (4, 8)
        for family in families
    ]
    found += [
        Entry(
            "odd-even-merge-4-k3-graph",
            "The k-th smallest, n = 4, k = 3",
            "The cone of output 3: the modules that x^(3) depends on.",
            partial(_family, "odd-even-merge", 4, "graph", 3),
        ),
        Entry(
            "odd-even-merge-4-k3-layers",
            "The k-th smallest, n = 4, k = 3",
            "Compiled layers with the output layer W3 = [0, 0, 1, 0] and its cone.",
            partial(_family, "odd-even-merge", 4, "layers", 3),
        ),
        Entry(
            "counting-4-k3-graph",
            "Counting network, n = 4",
            "Rank counting for k = 3: threshold, rank, indicator and select units.",
            _counting,
        ),
        Entry(
            "counting-4-k3-layers",
            "Counting network, n = 4",
            "The same network compiled: step units, indicators, big-M gates, ReLU select.",
            partial(_counting, "layers"),
        ),
        Entry(
            "best-16-wires",
            "Larger wire diagrams",
            "best-known 16-input network (SorterHunter).",
            partial(_family, "best", 16, "wires"),
        ),
        Entry(
            "bitonic-16-wires",
            "Larger wire diagrams",
            "bitonic, n = 16.",
            partial(_family, "bitonic", 16, "wires"),
        ),
        Entry(
            "odd-even-merge-32-wires",
            "Larger wire diagrams",
            "odd-even merge, n = 32.",
            partial(_family, "odd-even-merge", 32, "wires"),
        ),
    ]
    return found


def _family(family: str, n: int, style: str = "graph", k: int | None = None) -> Any:
    import sortnet

    net = sortnet.network(family, n)
    if style == "layers":
        import compilers  # the gallery script may compile; the renderer itself never does

        return sortnet.draw(compilers.compile(net, lowering="abs"), style="layers", k=k)
    return sortnet.draw(net, style=style, k=k)


def _sort2(style: str = "graph") -> Any:
    import sortnet

    net = sortnet.Network.from_comparators(2, [(0, 1)], name="Sort_2")
    if style == "layers":
        import compilers

        return sortnet.draw(compilers.compile(net, lowering="abs"), style="layers")
    return sortnet.draw(net)


def _counting(style: str = "graph") -> Any:
    import sortnet
    from sortnet.generators.counting import counting_network

    net = counting_network(4, k=3)
    if style == "layers":
        import compilers  # the gallery script may compile; the renderer itself never does

        return sortnet.draw(compilers.compile(net), style="layers")
    return sortnet.draw(net, style=style)


def write_gallery(directory: str | Path = DEFAULT_DIRECTORY, *, images: bool = True) -> list[Path]:
    """Write every gallery diagram (DOT, and SVG when ``images``) and the README.

    Parameters
    ----------
    directory : str or Path
        Target folder, created if needed.
    images : bool
        Also render SVG (needs the Graphviz programs). The DOT files and the
        README do not depend on it.

    Returns
    -------
    list of Path
        The files written.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    built = [(entry, entry.build()) for entry in entries()]
    for entry, drawing in built:
        written.append(save_drawing(drawing, directory / f"{entry.stem}.dot"))
        if images:
            written.append(save_drawing(drawing, directory / f"{entry.stem}.svg"))
    readme = directory / "README.md"
    readme.write_text(readme_text([entry for entry, _ in built]), encoding="utf-8")
    written.append(readme)
    return written


def readme_text(gallery: Sequence[Entry]) -> str:
    """The gallery index: images inline under their section, with captions."""
    lines = [
        "# Diagram gallery",
        "",
        "Rendered by `python -m sortnet.draw.gallery` (do not edit by hand; a test fails",
        "when these files are stale). Each diagram is an SVG with its DOT source beside it;",
        "`sortnet draw FAMILY N --style graph|wires|layers [--k K] -o out.svg` makes others.",
        "",
        "## Bubble sort vs Batcher's merge, n = 4",
        "",
        "Bubble sort needs 6 Sort_2 modules in 5 layers; Batcher's odd-even merge needs 5 in 3.",
        "",
        "| bubble: 6 modules | odd-even merge: 5 modules |",
        "| --- | --- |",
        "| ![bubble, n = 4](bubble-4-graph.svg) | ![odd-even merge, n = 4]"
        "(odd-even-merge-4-graph.svg) |",
    ]
    section = None
    for entry in gallery:
        if entry.section != section:
            section = entry.section
            lines += ["", f"## {section}", ""]
        alt = entry.caption.replace("[", "(").replace("]", ")")  # brackets end alt text
        lines += [
            f"![{alt}]({entry.stem}.svg)",
            "",
            f"*{entry.caption}* ([DOT]({entry.stem}.dot))",
            "",
        ]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Regenerate the gallery in ``argv[0]`` (default ``diagrams``)."""
    args = list(sys.argv[1:] if argv is None else argv)
    directory = Path(args[0]) if args else DEFAULT_DIRECTORY
    images = has_engine("dot") and has_engine("neato")
    written = write_gallery(directory, images=images)
    print(f"wrote {len(written)} files to {directory}", file=sys.stderr)
    if not images:
        print(f"SVG skipped: Graphviz is not installed ({INSTALL_HINT})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

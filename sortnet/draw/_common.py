"""Shared pieces of the renderers: lazy graphviz import, labels, colours, file output.

graphviz is an optional dependency (``pip install 'sortnet[draw]'``), so it is
imported here, inside functions, and never when :mod:`sortnet` is imported.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sortnet.errors import SortnetError

if TYPE_CHECKING:
    import graphviz

#: Output formats :func:`save_drawing` picks from the file suffix.
SUFFIX_FORMATS = {".dot": "dot", ".gv": "dot", ".svg": "svg", ".png": "png", ".pdf": "pdf"}

INSTALL_HINT = "apt-get install graphviz / brew install graphviz"

# One palette for every style, so a highlighted cone looks the same everywhere.
HIGHLIGHT = "#d62728"
MUTED = "#b0b0b0"
INK = "#222222"
INPUT_FILL = "#e8f0fe"
OUTPUT_FILL = "#e6f4ea"
MODULE_FILL = "#fff8e1"
FONT = "Helvetica"


class DrawingError(SortnetError):
    """A drawing cannot be made or written (bad style, suffix, missing Graphviz)."""


def graphviz_module() -> Any:
    """Import the graphviz package, or raise :class:`DrawingError` saying how to get it."""
    try:
        import graphviz
    except ImportError as error:  # pragma: no cover - graphviz is installed in the dev env
        raise DrawingError(
            "drawing needs the graphviz Python package: pip install 'sortnet[draw]'"
        ) from error
    return graphviz


def new_digraph(name: str, *, engine: str = "dot", **graph_attr: str) -> graphviz.Digraph:
    """An empty Digraph with the house font and the given graph attributes."""
    graphviz = graphviz_module()
    digraph = graphviz.Digraph(name=name, engine=engine)
    digraph.attr("graph", fontname=FONT, **graph_attr)
    digraph.attr("node", fontname=FONT, fontsize="12")
    digraph.attr("edge", fontname=FONT, fontsize="9")
    return digraph


def html_sub(letter: str, index: int) -> str:
    """An HTML-like label ``letter`` with a subscript, e.g. ``x<SUB>1</SUB>``."""
    return f"<{letter}<SUB>{index}</SUB>>"


def html_order_statistic(position: int) -> str:
    """The label of sorted output ``position`` (1-based): x with superscript ``(position)``."""
    return f"<x<SUP>({position})</SUP>>"


def format_weight(value: float) -> str:
    """A weight as a short, deterministic string: ``1``, ``-0.5``, ``0.333``."""
    text = f"{value:.3g}"
    return "0" if text == "-0" else text


def plural(count: int, noun: str) -> str:
    """``"1 layer"``, ``"5 layers"``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def check_k(k: int | None, positions: list[int]) -> int | None:
    """Validate a 1-based output ``k`` against the 0-based output ``positions``; 0-based or None."""
    if k is None:
        return None
    if isinstance(k, bool) or not hasattr(k, "__index__"):  # numpy integers are fine
        raise DrawingError(f"k must be an integer, got {k!r}")
    k = int(k)
    if k - 1 not in positions:
        shown = ", ".join(str(p + 1) for p in positions)
        raise DrawingError(f"k={k} is not an output of this network (outputs: {shown})")
    return k - 1


def save_drawing(digraph: graphviz.Digraph, path: str | os.PathLike[str]) -> Path:
    """Write ``digraph`` to ``path``; the suffix picks DOT, SVG, PNG or PDF.

    The file is written to a temporary name beside ``path`` and renamed, so a
    reader never sees half a file. DOT needs only the Python package; the image
    formats need the Graphviz programs (``dot``, or ``neato`` for wire diagrams).

    Parameters
    ----------
    digraph : graphviz.Digraph
        A drawing from :func:`sortnet.draw`.
    path : str or os.PathLike
        Target file ending in ``.dot``, ``.gv``, ``.svg``, ``.png`` or ``.pdf``.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    DrawingError
        For an unknown suffix, or an image format when Graphviz is not installed.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from sortnet import Network, draw
    >>> net = Network.from_comparators(2, [(0, 1)])
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = save_drawing(draw(net), pathlib.Path(tmp) / "sort2.dot")
    ...     out.read_text().startswith("digraph")
    True
    >>> save_drawing(draw(net), "sort2.jpeg")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    sortnet.draw._common.DrawingError: cannot write 'sort2.jpeg': unknown suffix '.jpeg' (use ...)
    """
    if not (hasattr(digraph, "source") and hasattr(digraph, "pipe")):  # graphviz is lazy
        raise DrawingError(
            f"save_drawing needs a graphviz.Digraph from sortnet.draw, got {type(digraph).__name__}"
        )
    from sortnet.io.atomic import check_target

    path = check_target(path, "drawing")
    fmt = output_format(path)
    if fmt == "dot":
        data = digraph.source.encode("utf-8")
    else:
        if not has_engine(digraph.engine):
            raise DrawingError(
                f"cannot write {str(path)!r}: the Graphviz program {digraph.engine!r} is not "
                f"installed ({INSTALL_HINT}); a .dot file can still be written"
            )
        data = digraph.pipe(format=fmt)
    _atomic_write(path, data)
    return path


def output_format(path: Path) -> str:
    """The Graphviz format for ``path``'s suffix, or :class:`DrawingError`."""
    fmt = SUFFIX_FORMATS.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(SUFFIX_FORMATS)
        shown = path.suffix or "(none)"
        raise DrawingError(f"cannot write {str(path)!r}: unknown suffix {shown!r} (use {known})")
    return fmt


def has_engine(engine: str = "dot") -> bool:
    """True when the Graphviz layout program ``engine`` is on the PATH."""
    return shutil.which(engine) is not None


def _atomic_write(path: Path, data: bytes) -> None:
    from sortnet.io.atomic import atomic_write

    atomic_write(path, lambda stream: stream.write(data), "drawing")


def module_numbers(net: Any) -> tuple[list[int], list[int]]:
    """Number a comparator network's modules in layer order, top wire first.

    Returns ``(number, layer)``: for comparator ``c`` (its index in
    ``net.comparators``), ``number[c]`` is its 1-based module number ``S<number>``
    and ``layer[c]`` its 0-based parallel layer. Every renderer uses this one
    numbering, so S3 in a wire diagram is S3 in the computation graph.
    """
    from sortnet.schedule import asap_layer_indices

    layer = asap_layer_indices(net.n, net.comparators)
    order = sorted(range(len(layer)), key=lambda c: (layer[c], net.comparators[c], c))
    number = [0] * len(layer)
    for rank, c in enumerate(order, start=1):
        number[c] = rank
    return number, layer


def cone_comparators(net: Any, position: int) -> set[int]:
    """Indices of the comparators that output ``position`` (0-based) depends on.

    This is the set :func:`sortnet.select` keeps: the ancestors of the output
    node in the IR graph.
    """
    import networkx as nx

    from sortnet import nodes

    graph = net.graph
    return {
        graph.nodes[node]["index"]
        for node in nx.ancestors(graph, nodes.output_node(position))
        if graph.nodes[node]["op"] == nodes.COMPARE_EXCHANGE
    }

"""Graphviz renderings of networks and compiled models.

:func:`draw` returns a :class:`graphviz.Digraph` (Jupyter shows it inline);
:func:`save_drawing` writes it as DOT, SVG, PNG or PDF by the file suffix.
Styles:

``graph``
    The computation graph: inputs -> Sort_2 modules S1..Sm by layer -> outputs
    (:mod:`sortnet.draw.graph_style`); for a counting network, its threshold,
    rank, indicator and select units (:mod:`sortnet.draw.counting_style`).
``wires``
    Knuth's wire diagram (:mod:`sortnet.draw.wires`).
``layers``
    The compiled multilayer perceptron, unit by unit (:mod:`sortnet.draw.layers`).
    It draws a compiled model; a renderer compiles nothing, so compile a network
    first: ``draw(compilers.compile(net), style="layers")``.

graphviz is imported only when a drawing is made. Import names from this
package with ``from sortnet.draw import ...``. ``sortnet.draw`` is both this package
and the :func:`draw` function: the package root loads it lazily (PEP 562) and the
import system then sets ``sortnet.draw`` to the package, so the package is made
callable and calling it calls :func:`draw`.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any

from sortnet.draw._common import DrawingError, has_engine, save_drawing

if TYPE_CHECKING:
    import graphviz

STYLES = ("graph", "wires", "layers")

__all__ = ["STYLES", "DrawingError", "draw", "repr_svg", "save_drawing"]


def draw(obj: Any, style: str = "graph", k: int | None = None, **options: Any) -> graphviz.Digraph:
    """Draw a network or a compiled model with Graphviz.

    Parameters
    ----------
    obj : Network or CompiledModel
        A comparator or counting :class:`~sortnet.Network`, or a compiled model
        (``style="layers"`` only, which is also the default for a model).
    style : {"graph", "wires", "layers"}
        ``graph`` (computation graph), ``wires`` (Knuth diagram; comparator
        networks only) or ``layers`` (compiled MLP: a compiled model only).
    k : int, optional
        1-based output to highlight: its cone of comparators (graph, wires), or
        the k-th output layer W3 and the units feeding it (layers).
    **options
        Passed to the style: ``numbers`` (wires), ``max_units`` (layers).

    Returns
    -------
    graphviz.Digraph
        Render it with :func:`save_drawing`, ``.pipe()`` or in Jupyter.

    Raises
    ------
    DrawingError
        For an unknown style, a style that does not fit the object (``layers`` of
        a network that is not compiled), or a bad ``k``.

    Examples
    --------
    >>> from sortnet import Network
    >>> net = Network.from_comparators(4, [(0, 1), (2, 3), (0, 2), (1, 3), (1, 2)])
    >>> drawing = draw(net, style="graph", k=3)
    >>> "S5 [" in drawing.source, "S6 [" in drawing.source
    (True, False)
    >>> draw(net, style="circles")
    Traceback (most recent call last):
    ...
    sortnet.draw._common.DrawingError: unknown style 'circles' (use graph, wires, layers)
    """
    if style not in STYLES:
        raise DrawingError(f"unknown style {style!r} (use {', '.join(STYLES)})")
    from sortnet.network import Network

    if not isinstance(obj, Network):
        if not _is_model(obj):
            raise DrawingError(
                f"cannot draw a {type(obj).__name__}: expected a Network or a compiled model"
            )
        if style not in ("layers", "graph"):
            raise DrawingError(f"style {style!r} draws networks; a compiled model has 'layers'")
        from sortnet.draw.layers import draw_layers

        return draw_layers(obj, k=k, **options)
    if style == "layers":
        raise DrawingError(
            "style 'layers' draws a compiled model; compile the network first: "
            "draw(compilers.compile(net), style='layers')"
        )
    if obj.kind == "counting":
        if style == "wires":
            raise DrawingError("a counting network has no wire diagram; use style 'graph'")
        from sortnet.draw.counting_style import draw_counting

        return draw_counting(obj, k=k, **options)
    if style == "wires":
        from sortnet.draw.wires import draw_wires

        return draw_wires(obj, k=k, **options)
    from sortnet.draw.graph_style import draw_graph

    return draw_graph(obj, k=k, **options)


def _is_model(obj: Any) -> bool:
    from sortnet.nn.model import CompiledModel  # lazy: keeps numpy out of this import

    return isinstance(obj, CompiledModel)


def repr_svg(obj: Any) -> str | None:
    """SVG text for Jupyter's ``_repr_svg_``, or None when Graphviz is unavailable.

    Comparator networks show their wire diagram (compact at any n), counting
    networks their computation graph, compiled models their layers.

    Examples
    --------
    >>> from sortnet import Network
    >>> svg = repr_svg(Network.from_comparators(2, [(0, 1)]))
    >>> svg is None or "<svg" in svg
    True
    """
    from sortnet.network import Network

    wires = isinstance(obj, Network) and obj.kind == "comparator"
    try:
        drawing = draw(
            obj, style="wires" if wires else ("graph" if isinstance(obj, Network) else "layers")
        )
        if not has_engine(drawing.engine):
            return None
        return str(drawing.pipe(format="svg", encoding="utf-8"))
    except DrawingError:
        return None


class _CallableModule(types.ModuleType):
    """This package, callable as :func:`draw` (see the module notes)."""

    def __call__(self, *args: Any, **kwargs: Any) -> graphviz.Digraph:
        return draw(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

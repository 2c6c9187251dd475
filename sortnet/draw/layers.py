"""The ``layers`` style: a compiled model drawn unit by unit.

One column per layer; each unit shows its activation (``|z|``, ``ReLU``, ``id``,
``1[z≥0]``, ``1[|z|≤1]``) and its bias when non-zero; each non-zero weight is an
edge labelled with its value. A residual block is two columns (hidden units,
then the block output, whose dashed edges are the skip connection). A column
wider than ``max_units`` becomes one summary node with its activation counts.

With ``k`` on a sorting model, the k-th-smallest output layer ``W3`` (the
one-hot row ``e_k``) is drawn after the outputs, and the cone of units feeding
output k is highlighted; a model compiled for one k is highlighted the same way.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import numpy as np

from sortnet.draw import _common as c
from sortnet.draw._columns import MAX_UNITS, Column, Edge, Unit, render_columns
from sortnet.nn.activations import ACTIVATIONS

if TYPE_CHECKING:
    import graphviz

    from sortnet.nn.model import CompiledModel

#: How each activation is written on its unit, and its fill (from the registry).
SYMBOLS = {name: act.symbol for name, act in ACTIVATIONS.items()}
_FILLS = {name: act.fill for name, act in ACTIVATIONS.items()}


def draw_layers(
    model: CompiledModel, k: int | None = None, max_units: int = MAX_UNITS
) -> graphviz.Digraph:
    """Draw a compiled model: units per layer, activations, non-zero weights.

    Parameters
    ----------
    model : CompiledModel
        A model from :func:`compilers.compile` or :func:`sortnet.load_model`.
    k : int, optional
        1-based output. On a sorting model: draw the output layer ``W3`` for the
        k-th smallest and highlight the units feeding it. On a model compiled
        for one k it must equal ``model.k``; its cone is highlighted.
    max_units : int
        Columns with more units are drawn as one summary node.

    Returns
    -------
    graphviz.Digraph

    Examples
    --------
    >>> from sortnet.nn.model import CompiledModel, Layer
    >>> hidden = Layer([[0.5, -0.5], [0.5, 0.5]], [0, 0], ("abs", "identity"))
    >>> output = Layer([[-1, 1], [1, 1]], [0, 0], ("identity", "identity"))
    >>> drawing = draw_layers(CompiledModel([hidden, output], {"lowering": "abs"}), k=2)
    >>> "|z|" in drawing.source, "W3" in drawing.source
    (True, True)
    """
    selects = model.k is not None and model.n_outputs == 1
    if selects and k is not None and k != model.k:
        raise c.DrawingError(
            f"this model outputs the k-th smallest for k = {model.k}; cannot draw k={k}"
        )
    if not selects:
        c.check_k(k, list(range(model.n_outputs)))
    columns, edges, heads = _model_columns(model)
    last = heads[-1]  # ids of the model's output units
    if not selects and k is not None:
        readout = _readout(model, k)
        columns.append(Column("readout W3 (1 × n)", [Unit("W3", _w3_label(k), _W3_ATTRS)]))
        for position, weight in enumerate(readout):
            if weight != 0:
                edges.append(Edge(last[position], "W3", c.format_weight(weight)))
        heads.append(["W3"])
    if k is not None:
        _highlight(columns, edges, heads[-1][0])
    digraph = c.new_digraph(
        "layers",
        rankdir="LR",
        ranksep="1.1",
        nodesep="0.4",
        labelloc="t",
        fontsize="14",
        label=_title(model, k),
    )
    render_columns(digraph, columns, edges, max_units)
    return digraph


_W3_ATTRS = {
    "shape": "box",
    "style": "rounded,filled",
    "fillcolor": c.OUTPUT_FILL,
    "peripheries": "2",
    "fontsize": "12",
}


def _w3_label(k: int) -> str:
    return f"<<B>W3</B>: x<SUP>({k})</SUP>>"


def _readout(model: CompiledModel, k: int) -> np.ndarray:
    """W3 for output k: the model's stored readout if it has one for k, else e_k."""
    stored = model.readout
    if stored is not None and model.k == k:
        return np.asarray(stored, dtype=np.float64).reshape(-1)
    row = np.zeros(model.n_outputs)
    row[k - 1] = 1.0
    return row


def _model_columns(model: CompiledModel) -> tuple[list[Column], list[Edge], list[list[str]]]:
    """Columns and edges of the whole model; ``heads[i]`` lists column i's unit ids."""
    from sortnet.nn.layer import to_dense

    inputs = [
        Unit(
            f"x{i + 1}",
            c.html_sub("x", i + 1),
            {
                "shape": "circle",
                "style": "filled",
                "fillcolor": c.INPUT_FILL,
                "width": "0.4",
                "fixedsize": "true",
            },
        )
        for i in range(model.n)
    ]
    columns = [Column("inputs", inputs, "inputs")]
    heads = [[unit.id for unit in inputs]]
    edges: list[Edge] = []
    count = len(model.layers)
    for number, layer in enumerate(model.layers, start=1):
        previous = heads[-1]
        is_output = number == count and not layer.residual and not layer.nonlinear
        prefix = "y" if is_output else f"h{number}_"
        units = [
            Unit(
                f"{prefix}{u + 1}",
                _unit_label(layer.activations[u], layer.bias[u], is_output, u, model),
                _unit_attrs(layer, u, is_output),
                order=_wire_hint(layer, u, model.n),
            )
            for u in range(layer.units)
        ]
        caption = "outputs" if is_output else f"layer {number}"
        columns.append(Column(caption, units, _noun(layer.activations), not is_output))
        ids = [unit.id for unit in units]
        edges.extend(_weight_edges(to_dense(layer.weight), previous, ids))
        heads.append(ids)
        if layer.residual:
            # The last block's sums are the model's outputs: draw them as such.
            last = number == count
            outs = [
                Unit(
                    f"y{o + 1}" if last else f"r{number}_{o + 1}",
                    _unit_label("identity", 0.0, True, o, model) if last else "<+>",
                    _unit_attrs(layer, o, True)
                    if last
                    else {"shape": "circle", "width": "0.3", "fixedsize": "true"},
                )
                for o in range(layer.outputs)
            ]
            columns.append(Column("outputs" if last else f"block {number} out", outs, "sums"))
            out_ids = [unit.id for unit in outs]
            edges.extend(_weight_edges(to_dense(layer.out_weight), ids, out_ids))
            edges.extend(_weight_edges(to_dense(layer.skip), previous, out_ids, dashed=True))
            heads.append(out_ids)
    return columns, edges, heads


def _wire_hint(layer: Any, u: int, n: int) -> float | None:
    """Mean wire a unit works on, from its label (``"c0 |x0-x2|/2"`` -> 1.0), in [0, 1].

    Keeps the two units of one comparator together, level with its wires.
    """
    if layer.labels is None:
        return None
    wires = [int(w) for w in re.findall(r"x(\d+)", layer.labels[u])]
    return sum(wires) / len(wires) / max(n - 1, 1) if wires else None


def _weight_edges(
    weight: np.ndarray, tails: list[str], heads: list[str], dashed: bool = False
) -> list[Edge]:
    attrs = {"style": "dashed"} if dashed else {}
    return [
        Edge(tails[v], heads[u], c.format_weight(float(weight[u, v])), None, dict(attrs))
        for u, v in np.argwhere(weight != 0)
    ]


def _unit_label(act: str, bias: float, is_output: bool, u: int, model: CompiledModel) -> str:
    if is_output:
        if model.k is not None and model.n_outputs == 1:
            return f"<x<SUP>({model.k})</SUP>>"
        return c.html_order_statistic(u + 1)
    text = SYMBOLS.get(act, act).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if bias:
        text += f'<BR/><FONT POINT-SIZE="8">b={c.format_weight(float(bias))}</FONT>'
    return f"<{text}>"


def _unit_attrs(layer: Any, u: int, is_output: bool) -> dict[str, str]:
    if is_output:
        return {
            "shape": "circle",
            "style": "filled",
            "fillcolor": c.OUTPUT_FILL,
            "width": "0.45",
            "fixedsize": "true",
        }
    attrs = {
        "shape": "box",
        "style": "rounded,filled",
        "fontsize": "10",
        "height": "0.3",
        "margin": "0.05,0.02",
        "fillcolor": _FILLS.get(layer.activations[u], "white"),
    }
    if layer.labels is not None:
        attrs["tooltip"] = layer.labels[u]  # what the unit computes, on hover in SVG
    return attrs


def _noun(activations: tuple[str, ...]) -> str:
    counts: dict[str, int] = {}
    for name in activations:
        counts[name] = counts.get(name, 0) + 1
    parts = ", ".join(f"{SYMBOLS.get(name, name)} ×{n}" for name, n in counts.items())
    return f"units ({parts})"


def _highlight(columns: list[Column], edges: list[Edge], sink: str) -> None:
    """Mark the units and edges that reach ``sink`` through non-zero weights."""
    into: dict[str, list[Edge]] = {}
    for edge in edges:
        into.setdefault(edge.head, []).append(edge)
    cone = {sink}
    stack = [sink]
    while stack:
        for edge in into.get(stack.pop(), []):
            if edge.tail not in cone:
                cone.add(edge.tail)
                stack.append(edge.tail)
    for column in columns:
        for unit in column.units:
            unit.lit = unit.id in cone
    for edge in edges:
        edge.lit = edge.tail in cone and edge.head in cone


def _title(model: CompiledModel, k: int | None) -> str:
    source = model.metadata.get("source", {})
    name = source.get("name") or source.get("family") or source.get("kind") or "network"
    text = (
        f"{name}, compiled with the {model.lowering} lowering: n = {model.n}, "
        f"{c.plural(model.depth, 'hidden layer')}, {c.plural(model.nonzeros, 'non-zero weight')}"
    )
    if model.k is not None and model.n_outputs == 1:
        text += f"; outputs the k-th smallest, k = {model.k}"
    elif k is not None:
        text += f"; readout W3 for k = {k}"
    return text

"""Column layouts shared by the graph, counting and layers styles.

A drawing is a list of columns (inputs, one column per layer, outputs), each a
``rank=same`` group under a caption. Graphviz is asked for left-to-right ranks;
the order of units inside a column is fixed by invisible edges, and the
captions are tied together so they form one row across the top. A column wider
than ``max_units`` is drawn as one summary node, its edges merged and counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING

from sortnet.draw import _common as c

if TYPE_CHECKING:
    import graphviz

#: Columns wider than this are summarised unless the caller says otherwise.
MAX_UNITS = 24


@dataclass
class Unit:
    """One drawn node: its id, label and Graphviz attributes; ``lit`` for highlighting."""

    id: str
    label: str
    attrs: dict[str, str] = field(default_factory=dict)
    lit: bool | None = None  # None: nothing is highlighted
    order: float | None = None  # position hint in [0, 1] for reordered columns


@dataclass
class Column:
    """A caption and its units, top first; ``noun`` names them in a summary node."""

    caption: str
    units: list[Unit]
    noun: str = "units"
    reorder: bool = False  # sort units by the mean position of their inputs


@dataclass
class Edge:
    """An edge between unit ids; ``label`` is dropped when merged into a summary."""

    tail: str
    head: str
    label: str = ""
    lit: bool | None = None
    attrs: dict[str, str] = field(default_factory=dict)


def add_ranks(digraph: graphviz.Digraph, captions: list[str], ranks: list[list[str]]) -> None:
    """Put each list of node ids in one rank under its caption, in the given order."""
    for number, (caption_text, members) in enumerate(zip(captions, ranks, strict=True)):
        caption = f"rank{number}"
        with digraph.subgraph(name=caption) as rank:
            rank.attr(rank="same")
            rank.node(
                caption,
                caption_text,
                shape="plaintext",
                fontsize="10",
                fontcolor="#777777",
                height="0.2",
            )
            for name in members:
                rank.node(name)
            # Flat invisible edges fix the order inside the rank: caption, then top first.
            for upper, lower in pairwise([caption, *members]):
                rank.edge(upper, lower, style="invis")
        if number:
            # Heavy edges between captions keep them level, in one row.
            digraph.edge(f"rank{number - 1}", caption, style="invis", weight="100")


def render_columns(
    digraph: graphviz.Digraph,
    columns: list[Column],
    edges: list[Edge],
    max_units: int = MAX_UNITS,
) -> None:
    """Add ``columns`` and ``edges`` to ``digraph``, summarising wide columns."""
    drawn: dict[str, str] = {}  # unit id -> id of the node that shows it
    ranks: list[list[str]] = []
    columns = _barycentre_order(columns, edges)
    for number, column in enumerate(columns):
        if len(column.units) <= max_units:
            for unit in column.units:
                drawn[unit.id] = unit.id
                digraph.node(unit.id, unit.label, **_lit_attrs(unit.attrs, unit.lit))
            ranks.append([unit.id for unit in column.units])
            continue
        summary = f"summary{number}"
        lit_count = sum(1 for unit in column.units if unit.lit)
        text = f"{len(column.units)} {column.noun}"
        if lit_count:
            text += f"\\n({lit_count} feed output k)"
        lit = None if all(unit.lit is None for unit in column.units) else lit_count > 0
        digraph.node(summary, text, **_lit_attrs({"shape": "box3d", "fontsize": "10"}, lit))
        for unit in column.units:
            drawn[unit.id] = summary
        ranks.append([summary])
    add_ranks(digraph, [column.caption for column in columns], ranks)
    merged: dict[tuple[str, str], list[Edge]] = {}
    for edge in edges:
        merged.setdefault((drawn[edge.tail], drawn[edge.head]), []).append(edge)
    for (tail, head), group in merged.items():
        lit_values = [edge.lit for edge in group]
        lit = None if all(v is None for v in lit_values) else any(lit_values)
        if len(group) == 1 and tail == group[0].tail and head == group[0].head:
            label, attrs = group[0].label, dict(group[0].attrs)
        else:
            label, attrs = f"×{len(group)}", {"style": "bold"}
        colour = c.INK if lit is None else (c.HIGHLIGHT if lit else c.MUTED)
        drawn_attrs = {"label": label, "color": colour, "fontcolor": colour, "arrowsize": "0.5"}
        drawn_attrs.update(attrs)  # an edge's own attributes win (e.g. a lighter colour)
        digraph.edge(tail, head, **drawn_attrs)


def _barycentre_order(columns: list[Column], edges: list[Edge]) -> list[Column]:
    """Reorder the units of ``reorder`` columns by the mean position of their inputs.

    One left-to-right sweep of the Sugiyama barycentre heuristic: compilers
    group units by activation, which would make every edge cross; placing each
    unit next to the units that feed it untangles the picture. A unit's
    ``order`` hint (e.g. the wires it reads) wins over the barycentre. Ties keep
    the original order, so the result is deterministic.
    """
    tails: dict[str, list[str]] = {}
    for edge in edges:
        tails.setdefault(edge.head, []).append(edge.tail)
    position: dict[str, float] = {}
    ordered = []
    for column in columns:
        units = column.units
        if column.reorder:
            width = max(len(units) - 1, 1)
            keys = []
            for index, unit in enumerate(units):
                known = [position[t] for t in tails.get(unit.id, []) if t in position]
                if unit.order is not None:
                    key = unit.order
                else:
                    key = sum(known) / len(known) if known else index / width
                keys.append((key, index))
            units = [units[index] for _, index in sorted(keys)]
        for index, unit in enumerate(units):
            # Scale to [0, 1] so columns of different widths compare.
            position[unit.id] = index / max(len(units) - 1, 1)
        ordered.append(Column(column.caption, units, column.noun, column.reorder))
    return ordered


def _lit_attrs(attrs: dict[str, str], lit: bool | None) -> dict[str, str]:
    attrs = dict(attrs)
    if lit is True:
        attrs.update(color=c.HIGHLIGHT, penwidth="2")
    elif lit is False:
        attrs.update(color=c.MUTED, fontcolor=c.MUTED)
    return attrs

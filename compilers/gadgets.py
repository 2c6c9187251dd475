"""Gadgets: the unit-level lowering rule of each op, one registry entry per lowering.

A gadget is a few units plus how the wire values after the op are read off
them. Every rule works on wire values ``x`` of the current stage:

``abs`` (the Sort_2 form: ARCHITECTURE.md, "The Sort_2 form")
    units ``|x_a - x_b| / 2`` (abs) and ``(x_a + x_b) / 2`` (identity);
    ``min = mean - half_gap``, ``max = mean + half_gap``. An idle wire is one
    identity unit.
``relu`` (a plain ReLU-only MLP)
    ``|z| = relu(z) + relu(-z)`` and ``z = relu(z) - relu(-z)``: four units per
    comparator, two per idle wire.
``residual`` (a residual MLP)
    one unit ``d = relu(x_a - x_b)`` per comparator, then ``x_a -= d``,
    ``x_b += d`` through an explicit skip connection; idle wires ride the skip.

Adding a lowering means adding one :class:`Lowering` to :data:`LOWERINGS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

#: A linear form over stage values: ``{index: coefficient}``.
Form = dict[int, float]


@dataclass(frozen=True)
class Unit:
    """One unit: ``activation(sum(coef * value[i]) + bias)``."""

    activation: str
    pre: Form
    label: str
    bias: float = 0.0


@dataclass(frozen=True)
class Gadget:
    """Units of one op, and each written wire as a linear form over those units.

    ``post`` maps a wire to ``{local unit index: coefficient}``. For a residual
    lowering ``post`` is the update added to the wire (the skip carries the rest).
    """

    units: list[Unit]
    post: dict[int, Form] = field(default_factory=dict)


@dataclass(frozen=True)
class Lowering:
    """How one lowering turns a comparator (and an idle wire) into units."""

    name: str
    compare: Callable[[int, int, int], Gadget]  # (comparator index, i, j) -> gadget
    carry: Callable[[int], Gadget] | None  # idle wire -> gadget; None: the skip carries it
    residual: bool
    description: str


def _abs_compare(index: int, i: int, j: int) -> Gadget:
    units = [
        Unit("abs", {i: 0.5, j: -0.5}, f"c{index} |x{i}-x{j}|/2"),
        Unit("identity", {i: 0.5, j: 0.5}, f"c{index} (x{i}+x{j})/2"),
    ]
    return Gadget(units, {i: {0: -1.0, 1: 1.0}, j: {0: 1.0, 1: 1.0}})


def _abs_carry(wire: int) -> Gadget:
    return Gadget([Unit("identity", {wire: 1.0}, f"x{wire}")], {wire: {0: 1.0}})


def _relu_compare(index: int, i: int, j: int) -> Gadget:
    units = [
        Unit("relu", {i: 0.5, j: -0.5}, f"c{index} relu((x{i}-x{j})/2)"),
        Unit("relu", {i: -0.5, j: 0.5}, f"c{index} relu((x{j}-x{i})/2)"),
        Unit("relu", {i: 0.5, j: 0.5}, f"c{index} relu((x{i}+x{j})/2)"),
        Unit("relu", {i: -0.5, j: -0.5}, f"c{index} relu(-(x{i}+x{j})/2)"),
    ]
    # min = mean - |gap|/2 = (u2 - u3) - (u0 + u1); max = (u2 - u3) + (u0 + u1)
    post = {i: {0: -1.0, 1: -1.0, 2: 1.0, 3: -1.0}, j: {0: 1.0, 1: 1.0, 2: 1.0, 3: -1.0}}
    return Gadget(units, post)


def _relu_carry(wire: int) -> Gadget:
    units = [
        Unit("relu", {wire: 1.0}, f"relu(x{wire})"),
        Unit("relu", {wire: -1.0}, f"relu(-x{wire})"),
    ]
    return Gadget(units, {wire: {0: 1.0, 1: -1.0}})


def _residual_compare(index: int, i: int, j: int) -> Gadget:
    unit = Unit("relu", {i: 1.0, j: -1.0}, f"c{index} relu(x{i}-x{j})")
    return Gadget([unit], {i: {0: -1.0}, j: {0: 1.0}})


LOWERINGS: dict[str, Lowering] = {
    lowering.name: lowering
    for lowering in (
        Lowering(
            "abs",
            _abs_compare,
            _abs_carry,
            residual=False,
            description="Sort_2 form: |z| and identity units (2 per comparator, 1 per idle wire)",
        ),
        Lowering(
            "relu",
            _relu_compare,
            _relu_carry,
            residual=False,
            description="plain ReLU MLP (4 units per comparator, 2 per idle wire)",
        ),
        Lowering(
            "residual",
            _residual_compare,
            None,
            residual=True,
            description="residual MLP: 1 ReLU per comparator plus a skip connection",
        ),
    )
}

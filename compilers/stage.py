"""The unfused stage: the intermediate form between lowering and fusion.

A :class:`Stage` is one layer of units with an affine map on each side:
``h = act(pre @ v + pre_bias)`` and ``v' = post @ h + post_bias`` (plus ``v`` for a
residual stage). Lowerings produce stages; :mod:`compilers.fuse` multiplies each
``post`` into the next ``pre`` so that no layer is spent on an affine map alone.

Like the network (:mod:`sortnet.validate`) and the model (:class:`~sortnet.nn.model.Layer`),
this intermediate form has its own checker: :func:`stage_violations` lists every
broken invariant of a stage sequence, and :func:`check_stages` is what the driver calls
between lowering and fusion, so a lowering bug is named where it happens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse

from compilers.gadgets import Form, Unit
from sortnet.nn.activations import ACTIVATIONS


@dataclass(frozen=True)
class Stage:
    """One layer of units between two affine maps (all matrices CSR, float64)."""

    pre: scipy.sparse.csr_array  # (units, inputs)
    pre_bias: np.ndarray  # (units,)
    activations: tuple[str, ...]
    labels: tuple[str, ...]
    post: scipy.sparse.csr_array  # (outputs, units)
    post_bias: np.ndarray  # (outputs,)
    residual: bool = False


def _csr(rows: Sequence[Form], width: int) -> scipy.sparse.csr_array:
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    indices: list[int] = []
    data: list[float] = []
    for r, form in enumerate(rows):
        for column, value in sorted(form.items()):
            if value:
                indices.append(column)
                data.append(value)
        indptr[r + 1] = len(indices)
    return scipy.sparse.csr_array(
        (np.array(data, dtype=np.float64), np.array(indices, dtype=np.int64), indptr),
        shape=(len(rows), width),
    )


def build_stage(
    units: Sequence[Unit],
    post: dict[int, Form],
    *,
    inputs: int,
    outputs: int,
    post_bias: dict[int, float] | None = None,
    residual: bool = False,
) -> Stage:
    """A :class:`Stage` from units and the output forms over them.

    Units are reordered so equal activations are contiguous (in registry order),
    which lets executors apply each activation as one slice operation.
    """
    # Groups appear in the order their activation first occurs (the abs gadget
    # gives [|x_a - x_b|/2, (x_a + x_b)/2], the Sort_2 order: ARCHITECTURE.md, "The Sort_2 form").
    rank: dict[str, int] = {}
    for unit in units:
        rank.setdefault(unit.activation, len(rank))
    order = sorted(range(len(units)), key=lambda u: rank[units[u].activation])
    new_index = {old: new for new, old in enumerate(order)}
    ordered = [units[u] for u in order]
    post_rows = [{new_index[u]: c for u, c in post.get(row, {}).items()} for row in range(outputs)]
    bias = np.zeros(outputs)
    for row, value in (post_bias or {}).items():
        bias[row] = value
    return Stage(
        pre=_csr([u.pre for u in ordered], inputs),
        pre_bias=np.array([u.bias for u in ordered], dtype=np.float64),
        activations=tuple(u.activation for u in ordered),
        labels=tuple(u.label for u in ordered),
        post=_csr(post_rows, len(ordered)),
        post_bias=bias,
        residual=residual,
    )


class InvalidStageError(ValueError):
    """A lowering produced stages that break the stage invariants (a compiler bug)."""


def stage_violations(stages: Sequence[Stage], inputs: int) -> list[str]:
    """Every broken invariant of ``stages`` on ``inputs`` values, as sentences.

    Each stage has CSR float64 ``pre`` of shape ``(units, width)`` and ``post`` of
    shape ``(outputs, units)``; biases, activations and labels of matching lengths;
    registered activations, grouped (each activation in one contiguous run, the order
    :func:`build_stage` makes); finite weights; a residual stage keeps its width; and
    each stage reads the width the previous one wrote.

    Examples
    --------
    >>> unit = Unit("abs", {0: 0.5, 1: -0.5}, "h")
    >>> stage = build_stage([unit], {0: {0: 1.0}}, inputs=2, outputs=1)
    >>> stage_violations([stage], inputs=2)
    []
    >>> stage_violations([stage, stage], inputs=2)
    ['stage 1: reads 2 values but stage 0 writes 1']
    """
    problems = []
    width = inputs
    for index, stage in enumerate(stages):
        where = f"stage {index}"
        units = len(stage.activations)
        for name in ("pre", "post"):
            matrix = getattr(stage, name)
            if not isinstance(matrix, scipy.sparse.csr_array) or matrix.dtype != np.float64:
                problems.append(f"{where}: {name} is not a float64 CSR array")
            elif not np.isfinite(matrix.data).all():
                problems.append(f"{where}: {name} has a non-finite weight")
        if stage.pre.shape[1] != width:
            before = "the input has" if index == 0 else f"stage {index - 1} writes"
            problems.append(f"{where}: reads {stage.pre.shape[1]} values but {before} {width}")
        if stage.pre.shape[0] != units or stage.post.shape[1] != units:
            problems.append(
                f"{where}: {units} activations but pre has {stage.pre.shape[0]} rows and "
                f"post {stage.post.shape[1]} columns"
            )
        if len(stage.pre_bias) != units or len(stage.labels) != units:
            problems.append(f"{where}: biases or labels do not match its {units} units")
        if len(stage.post_bias) != stage.post.shape[0]:
            problems.append(f"{where}: post_bias does not match its {stage.post.shape[0]} outputs")
        unknown = sorted(set(stage.activations) - set(ACTIVATIONS))
        if unknown:
            problems.append(f"{where}: unknown activation(s) {unknown}")
        runs = [
            a for i, a in enumerate(stage.activations) if i == 0 or stage.activations[i - 1] != a
        ]
        if len(runs) != len(set(runs)):
            problems.append(f"{where}: activations are not grouped ({' '.join(runs)})")
        if stage.residual and stage.post.shape[0] != stage.pre.shape[1]:
            problems.append(f"{where}: a residual stage must keep its width")
        width = stage.post.shape[0]
    return problems


def check_stages(stages: Sequence[Stage], inputs: int) -> None:
    """Raise :class:`InvalidStageError` listing every violation (see :func:`stage_violations`).

    Examples
    --------
    >>> check_stages([], inputs=3)
    """
    problems = stage_violations(stages, inputs)
    if problems:
        raise InvalidStageError("invalid stages: " + "; ".join(problems))

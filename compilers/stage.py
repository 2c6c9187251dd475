"""The unfused stage: the intermediate form between lowering and fusion.

A :class:`Stage` is one layer of units with an affine map on each side:
``h = act(pre @ v + pre_bias)`` and ``v' = post @ h + post_bias`` (plus ``v`` for a
residual stage). Lowerings produce stages; :mod:`compilers.fuse` multiplies each
``post`` into the next ``pre`` so that no layer is spent on an affine map alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse

from compilers.gadgets import Form, Unit


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
    # gives [|x_a - x_b|/2, (x_a + x_b)/2], the Sort_2 order of DESIGN.md).
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

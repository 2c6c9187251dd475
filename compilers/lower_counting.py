"""Lower a rank-counting network (:func:`sortnet.counting_network`) to four stages.

One rule per op kind, each reading the IR:

``compare_bit`` (i, j)
    a step unit ``t = 1[x_i - x_j >= 0]`` for ``j < i`` (``x_j <= x_i``: with the
    index tie-break, exactly ``b_ij``); for ``j > i`` the bit is ``1 - t`` of the
    mirrored pair, since ``x_j < x_i`` is the complement of ``x_i >= x_j``. The
    rounded difference of two floats has the exact sign, so ties and near-ties
    are decided exactly.
``sum``
    affine: no units, only a linear form over the bits (plus constants).
``indicator`` (element i, rank r)
    an indicator unit ``1[-1 <= 2 (r_i - r) <= 1]``, 1 exactly when ``r_i = r``.
``select`` (rank r)
    big-M gating in two layers: a gate unit ``g = relu(M - M * ind)`` (0 or M),
    then ``relu(x_i - g) - relu(-x_i - g)``, which is ``x_i`` when ``g = 0`` and
    0 when ``g = M >= |x_i|``. Materialising ``g`` keeps the large ``M`` out of
    any sum with ``x_i`` (``x_i + M - M`` would round), so the output is
    bit-exact for every float with ``|x| <= M``; larger inputs are refused.

The input values ride along as identity units until the select layer.
"""

from __future__ import annotations

from compilers.gadgets import Form, Unit
from compilers.stage import Stage, build_stage
from sortnet import nodes
from sortnet.network import Network


def _carry(n: int, offset: int) -> tuple[list[Unit], dict[int, Form]]:
    """Identity units passing x_0..x_{n-1} on, written to stage values offset + w."""
    units = [Unit("identity", {offset + w: 1.0}, f"x{w}") for w in range(n)]
    return units, {offset + w: {w: 1.0} for w in range(n)}


def _shift(post: dict[int, Form], by: int) -> dict[int, Form]:
    return {row: {u + by: c for u, c in form.items()} for row, form in post.items()}


def lower_counting(net: Network, bound: float) -> tuple[list[Stage], list[int]]:
    """Stages of a counting network and the output positions (in row order)."""
    graph, n = net.graph, net.n
    by_op: dict[str, list[tuple[object, dict]]] = {}
    for node, data in graph.nodes(data=True):
        by_op.setdefault(data["op"], []).append((node, data))
    outputs = sorted((data["position"], node) for node, data in by_op[nodes.OUTPUT])
    positions = [position for position, _ in outputs]
    if n == 1:
        return [], positions

    # Stage 1: compare bits. Values out: ranks r_0..r_{n-1}, then x.
    bits = sorted(tuple(data["pair"]) for _, data in by_op[nodes.COMPARE_BIT])
    pairs = sorted({(max(i, j), min(i, j)) for i, j in bits})
    step = {pair: u for u, pair in enumerate(pairs)}
    units = [Unit("step", {i: 1.0, j: -1.0}, f"1[x{i}>=x{j}]") for i, j in pairs]
    ranks: dict[int, Form] = {}
    rank_bias: dict[int, float] = {}
    for node, data in by_op[nodes.SUM]:
        element = data["element"]
        form: Form = {}
        for source in graph.predecessors(node):
            i, j = graph.nodes[source]["pair"]
            if j < i:  # b_ij = t_ij
                form[step[(i, j)]] = form.get(step[(i, j)], 0.0) + 1.0
            else:  # b_ij = 1 - t_ji
                form[step[(j, i)]] = form.get(step[(j, i)], 0.0) - 1.0
                rank_bias[element] = rank_bias.get(element, 0.0) + 1.0
        ranks[element] = form
    carry_units, carry_post = _carry(n, 0)
    carry_post = {n + w: form for w, form in carry_post.items()}
    post = {**ranks, **_shift(carry_post, len(units))}
    stage1 = build_stage(units + carry_units, post, inputs=n, outputs=2 * n, post_bias=rank_bias)

    # Stage 2: indicators on 2 (r_i - r). Values out: indicators, then x.
    indicators = sorted((d["rank"], d["element"]) for _, d in by_op[nodes.INDICATOR])
    units = [Unit("indicator", {i: 2.0}, f"1[rank{i}={r}]", bias=-2.0 * r) for r, i in indicators]
    m = len(units)
    carry_units, _ = _carry(n, n)
    post2 = {row: {row: 1.0} for row in range(m + n)}
    stage2 = build_stage(units + carry_units, post2, inputs=2 * n, outputs=m + n)

    # Stage 3: gates g = relu(M - M * ind), materialised. Values out: gates, then x.
    units = [
        Unit("relu", {u: -bound}, f"gate{i},{r} = M(1-ind)", bias=bound)
        for u, (r, i) in enumerate(indicators)
    ]
    carry_units, _ = _carry(n, m)
    post3 = {row: {row: 1.0} for row in range(m + n)}
    stage3 = build_stage(units + carry_units, post3, inputs=m + n, outputs=m + n)

    # Stage 4: select. relu(x_i - g) - relu(-x_i - g), summed per output rank.
    units = []
    # Output row of each select rank: the row of the output node reading it.
    output_of = {
        graph.nodes[next(iter(graph.predecessors(node)))]["rank"]: row
        for row, (_, node) in enumerate(outputs)
    }
    post4: dict[int, Form] = {}
    for u, (r, i) in enumerate(indicators):
        units.append(Unit("relu", {m + i: 1.0, u: -1.0}, f"relu(x{i}-gate{i},{r})"))
        units.append(Unit("relu", {m + i: -1.0, u: -1.0}, f"relu(-x{i}-gate{i},{r})"))
        row = post4.setdefault(output_of[r], {})
        row[2 * u], row[2 * u + 1] = 1.0, -1.0
    stage4 = build_stage(units, post4, inputs=m + n, outputs=len(positions))
    return [stage1, stage2, stage3, stage4], positions

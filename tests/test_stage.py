"""The unfused stage (compilers/stage.py): the form between lowering and fusion, and its checker."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.sparse

import sortnet
from compilers.gadgets import LOWERINGS, Unit
from compilers.lower import lower_comparators
from compilers.lower_counting import lower_counting
from compilers.stage import (
    InvalidStageError,
    Stage,
    build_stage,
    check_stages,
    stage_violations,
)


def _abs_stage() -> Stage:
    units = [
        Unit("identity", {0: 0.5, 1: 0.5}, "mean"),
        Unit("abs", {0: 0.5, 1: -0.5}, "half gap"),
    ]
    return build_stage(units, {0: {0: 1.0, 1: -1.0}, 1: {0: 1.0, 1: 1.0}}, inputs=2, outputs=2)


def test_build_stage_groups_units_by_activation_and_keeps_the_map():
    stage = _abs_stage()
    # identity came first, so its group comes first; post columns follow the units.
    assert stage.activations == ("identity", "abs")
    assert stage.labels == ("mean", "half gap")
    np.testing.assert_array_equal(stage.pre.toarray(), [[0.5, 0.5], [0.5, -0.5]])
    np.testing.assert_array_equal(stage.post.toarray(), [[1.0, -1.0], [1.0, 1.0]])
    X = np.array([[3.0, -1.0], [-2.0, 5.0]])
    H = X @ stage.pre.T.toarray()
    H[:, 1] = np.abs(H[:, 1])
    np.testing.assert_array_equal(H @ stage.post.T.toarray(), np.sort(X, axis=1))


def test_build_stage_reorders_interleaved_activations():
    units = [
        Unit("abs", {0: 1.0}, "a"),
        Unit("identity", {1: 1.0}, "b"),
        Unit("abs", {1: 1.0}, "c"),
    ]
    stage = build_stage(units, {0: {2: 1.0}}, inputs=2, outputs=1)
    assert stage.activations == ("abs", "abs", "identity")
    assert stage.labels == ("a", "c", "b")
    np.testing.assert_array_equal(stage.post.toarray(), [[0.0, 1.0, 0.0]])  # "c" moved to 1
    assert stage_violations([stage], inputs=2) == []


@pytest.mark.parametrize("lowering", sorted(LOWERINGS))
def test_every_lowering_produces_valid_stages(lowering):
    for net in (sortnet.network("bitonic", 8), sortnet.network("pairwise", 5)):
        stages = lower_comparators(net, lowering)
        assert len(stages) == net.depth
        assert stage_violations(stages, inputs=net.n) == []


def test_counting_lowering_produces_valid_stages():
    net = sortnet.counting_network(4, k=2)
    stages, positions = lower_counting(net, 1e6)
    assert positions == [1]
    assert stage_violations(stages, inputs=4) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"activations": ("identity", "tanh")}, "unknown activation(s) ['tanh']"),
        ({"activations": ("abs", "identity", "abs")}, "3 activations but pre has 2 rows"),
        ({"labels": ("only one",)}, "biases or labels do not match"),
        ({"post_bias": np.zeros(3)}, "post_bias does not match its 2 outputs"),
        ({"pre": scipy.sparse.csr_array(np.ones((2, 3)))}, "reads 3 values but the input has 2"),
        ({"post": scipy.sparse.csr_array([[np.inf, 0.0], [0.0, 1.0]])}, "non-finite weight"),
        ({"pre": np.ones((2, 2))}, "pre is not a float64 CSR array"),
    ],
)
def test_checker_names_each_broken_invariant(change, message):
    broken = dataclasses.replace(_abs_stage(), **change)
    problems = stage_violations([broken], inputs=2)
    assert any(message in problem for problem in problems), problems
    with pytest.raises(InvalidStageError, match="invalid stages: stage 0"):
        check_stages([broken], inputs=2)


def test_checker_finds_ungrouped_activations_and_residual_width():
    stage = _abs_stage()
    mixed = dataclasses.replace(
        stage,
        pre=scipy.sparse.csr_array(np.ones((3, 2))),
        pre_bias=np.zeros(3),
        activations=("abs", "identity", "abs"),
        labels=("a", "b", "c"),
        post=scipy.sparse.csr_array(np.ones((2, 3))),
    )
    assert stage_violations([mixed], inputs=2) == [
        "stage 0: activations are not grouped (abs identity abs)"
    ]
    narrow = dataclasses.replace(
        stage, post=scipy.sparse.csr_array(np.ones((1, 2))), post_bias=np.zeros(1), residual=True
    )
    assert "stage 0: a residual stage must keep its width" in stage_violations([narrow], inputs=2)


def test_checker_follows_the_width_from_stage_to_stage():
    stage = _abs_stage()
    assert stage_violations([stage, stage, stage], inputs=2) == []
    assert stage_violations([stage], inputs=3) == ["stage 0: reads 2 values but the input has 3"]

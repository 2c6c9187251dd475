"""Rank-counting networks: the IR, the step/indicator/big-M lowering, the input bound."""

from __future__ import annotations

import numpy as np
import pytest

import compilers
import sortnet
from sortnet import nodes
from sortnet.errors import InputError, SortnetError


def test_counting_ir_schema() -> None:
    net = sortnet.counting_network(4)
    ops: dict[str, int] = {}
    for _, op in net.graph.nodes(data="op"):
        ops[op] = ops.get(op, 0) + 1
    assert net.kind == nodes.COUNTING_KIND and net.graph.graph["k"] is None
    assert ops == {
        "input": 4,
        "compare_bit": 12,
        "sum": 4,
        "indicator": 16,
        "select": 4,
        "output": 4,
    }
    assert net.depth == 4 and sorted(net.outputs) == [0, 1, 2, 3]
    roles = {data["role"] for _, _, data in net.graph.in_edges(("b", 2, 0), data=True)}
    assert roles == {"a", "b"}


def test_counting_k_keeps_one_rank() -> None:
    net = sortnet.counting_network(5, k="median")
    assert sorted(net.outputs) == [2] and net.graph.graph["k"] == 3
    indicators = [d for _, d in net.graph.nodes(data=True) if d["op"] == nodes.INDICATOR]
    assert {d["rank"] for d in indicators} == {2} and len(indicators) == 5


@pytest.mark.parametrize("n", range(1, 9))
def test_counting_models_sort_and_select_every_k(n: int) -> None:
    rng = np.random.default_rng(n)
    X = rng.integers(-3, 4, (400, n)).astype(np.float64)  # many ties
    X[:100] = rng.standard_normal((100, n))
    X[100:150] *= 1e25
    binary = ((np.arange(1 << n)[:, None] >> np.arange(n)) & 1).astype(np.float64)
    for batch in (X, binary):
        expected = np.sort(batch, axis=1)
        model = compilers.compile(sortnet.counting_network(n))
        np.testing.assert_array_equal(model(batch), expected)
        for k in range(1, n + 1):
            kth = compilers.compile(sortnet.counting_network(n, k))
            np.testing.assert_array_equal(kth(batch), expected[:, k - 1 : k])


def test_counting_model_layers() -> None:
    model = compilers.compile(sortnet.counting_network(4, 2))
    assert model.depth == 4 and model.lowering == "counting" and model.k == 2
    kinds = [{name for name, _, _ in layer.groups} for layer in model.layers]
    assert kinds == [
        {"step", "identity"},
        {"indicator", "identity"},
        {"relu", "identity"},
        {"relu"},
        {"identity"},
    ]


def test_compile_k_on_full_counting_network_prunes_it() -> None:
    model = compilers.compile(sortnet.counting_network(6), k="max")
    assert model.k == 6 and model.n_outputs == 1
    np.testing.assert_array_equal(model(np.array([[3.0, 9, -1, 9, 0, 2]])), [[9.0]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_counting_exact_on_every_float_within_bound(dtype: type) -> None:
    model = compilers.compile(sortnet.counting_network(6))
    rng = np.random.default_rng(2)
    X = (rng.standard_normal((2000, 6)) * rng.choice([1e-30, 1.0, 1e29], (2000, 1))).astype(dtype)
    X[:200, 3] = X[:200, 1]  # exact ties
    X[200:300] = np.nextafter(X[200:300, :1], np.inf)  # near-ties one ulp apart
    np.testing.assert_array_equal(model(X), np.sort(X, axis=1))


def test_default_bound_and_refusal() -> None:
    model = compilers.compile(sortnet.counting_network(3))
    assert model.bound == compilers.DEFAULT_BOUND == 2.0**100
    np.testing.assert_array_equal(
        model(np.array([[2.0**100, -(2.0**100), 0.0]])), [[-(2.0**100), 0.0, 2.0**100]]
    )
    with pytest.raises(InputError, match=r"X\[0, 2\] = 2.5e\+30 is outside the model's input"):
        model(np.array([[0.0, 1.0, 2.5e30]]))


def test_user_bound_refuses_outside_values() -> None:
    model = compilers.compile(sortnet.counting_network(4, 2), bound=10)
    assert model.bound == 10.0
    assert model(np.array([[10.0, -10, 3, 4]])).tolist() == [[3.0]]
    with pytest.raises(InputError, match="outside the model's input bound 10 .*answer wrongly"):
        model(np.array([[10.5, -10, 3, 4]]))
    with pytest.raises(InputError, match="outside the model's input bound 10"):
        model(np.array([[1, -11, 3, 4]], dtype=np.float32))


def test_counting_rejects_other_lowerings() -> None:
    with pytest.raises(compilers.CompileError, match="counting networks use the 'counting'"):
        compilers.compile(sortnet.counting_network(3), "abs")


@pytest.mark.parametrize("n", [0, -2, 2.5, True])
def test_counting_bad_n(n: object) -> None:
    with pytest.raises(SortnetError, match="n must be an integer >= 1"):
        sortnet.counting_network(n)  # type: ignore[arg-type]


@pytest.mark.parametrize("k", [0, 4, "mid"])
def test_counting_bad_k(k: object) -> None:
    with pytest.raises(InputError, match=r"k must be (an integer )?in 1..n=3"):
        sortnet.counting_network(3, k)  # type: ignore[arg-type]

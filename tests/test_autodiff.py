"""Gradients through compiled models: vjp, jacobian and grad (numpy engine)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse
from scipy.special import expit

import compilers
import sortnet
from sortnet.errors import InputError, SortnetError
from sortnet.network import Network
from sortnet.nn.autodiff import GAP_SCALE, LayerGrad, grad, jacobian, vjp
from sortnet.nn.model import CompiledModel, Layer

EXACT = ("abs", "relu", "residual")
FAMILIES = sortnet.list_families()
SIZES = (2, 3, 5, 8, 16)


def separated_rows(rng: np.random.Generator, n: int, rows: int = 6) -> np.ndarray:
    """Rows whose values are at least 1 apart: finite differences with h << 1 stay on one piece."""
    return np.stack([rng.permutation(n) * 2.0 + rng.uniform(-0.4, 0.4, n) for _ in range(rows)])


def permutation_matrices(order: np.ndarray) -> np.ndarray:
    """``P[r, p, order[r, p]] = 1``: output position p reads input order[r, p]."""
    rows, n = order.shape
    P = np.zeros((rows, n, n))
    P[np.arange(rows)[:, None], np.arange(n), order] = 1
    return P


def central_jacobian(f, X: np.ndarray, h: float = 1e-4) -> np.ndarray:  # type: ignore[no-untyped-def]
    rows, n = X.shape
    columns = []
    for i in range(n):
        step = np.zeros(n)
        step[i] = h
        columns.append((f(X + step) - f(X - step)) / (2 * h))
    return np.stack(columns, axis=-1)


def model_for(family: str, n: int, lowering: str, k: int | None = None) -> CompiledModel:
    if lowering == "softplus":
        return compilers.compile(sortnet.network(family, n), lowering, k, steepness=2.0)
    return compilers.compile(sortnet.network(family, n), lowering, k)


# -- finite differences --------------------------------------------------------------------
@pytest.mark.parametrize("lowering", (*EXACT, "softplus"))
@pytest.mark.parametrize("family", ["bitonic", "odd-even-transposition"])
def test_jacobian_and_vjp_match_central_differences(lowering: str, family: str) -> None:
    rng = np.random.default_rng(1)
    model = model_for(family, 5, lowering)
    X = separated_rows(rng, 5)
    expected = central_jacobian(lambda V: model(V, engine="numpy"), X)
    J = jacobian(model, X)
    np.testing.assert_allclose(J, expected, atol=1e-7)
    dY = rng.standard_normal((X.shape[0], 5))
    np.testing.assert_allclose(vjp(model, X, dY), np.einsum("ro,roi->ri", dY, expected), atol=1e-6)


# -- exact lowerings: the Jacobian is argsort -----------------------------------------------
@pytest.mark.parametrize("lowering", EXACT)
@pytest.mark.parametrize("family", FAMILIES)
def test_jacobian_is_the_argsort_permutation_on_distinct_rows(lowering: str, family: str) -> None:
    rng = np.random.default_rng(2)
    for n in SIZES:
        model = model_for(family, n, lowering)
        X = rng.standard_normal((20, n)) * 100
        X[0] = np.arange(n)[::-1]
        X[1] = np.arange(n) - n // 2  # a 0 and pairs summing to 0: kinks of relu's sum units
        J = jacobian(model, X)
        np.testing.assert_array_equal(J, permutation_matrices(np.argsort(X, axis=1)))


@pytest.mark.parametrize("lowering", EXACT)
@pytest.mark.parametrize("family", FAMILIES)
def test_jacobian_at_ties_is_the_stable_argsort(lowering: str, family: str) -> None:
    rng = np.random.default_rng(3)
    for n in SIZES:
        model = model_for(family, n, lowering)
        X = rng.integers(-2, 3, (40, n)).astype(np.float64)  # many ties, zeros
        X[0] = 0.0
        J = jacobian(model, X)
        stable = np.argsort(X, axis=1, kind="stable")
        np.testing.assert_array_equal(J, permutation_matrices(stable))


def test_ties_without_the_tangent_rule_would_not_be_stable() -> None:
    """The case that motivates the rule: a tied comparator left alone scrambles equal values."""
    net = Network.from_comparators(3, [(0, 2), (0, 1), (1, 2)])
    X = np.array([[1.0, 1.0, 0.0]])
    routed = [(1.0, 0), (1.0, 1), (0.0, 2)]  # (value, origin); swap only when strictly greater
    for i, j in net.comparators:
        if routed[i][0] > routed[j][0]:
            routed[i], routed[j] = routed[j], routed[i]
    assert [origin for _, origin in routed] == [2, 1, 0]  # not stable: [2, 0, 1]
    J = jacobian(compilers.compile(net, "residual"), X)
    np.testing.assert_array_equal(J, permutation_matrices(np.array([[2, 0, 1]])))


@pytest.mark.parametrize("lowering", EXACT)
def test_kth_model_jacobian_is_one_hot_at_the_kth_index(lowering: str) -> None:
    rng = np.random.default_rng(4)
    n = 8
    X = np.concatenate([rng.standard_normal((10, n)), rng.integers(-1, 2, (10, n))])
    stable = np.argsort(X, axis=1, kind="stable")
    for family in ("bitonic", "best", "bubble"):
        for k in (1, 3, n):
            J = jacobian(model_for(family, n, lowering, k), X)
            assert J.shape == (20, 1, n)
            np.testing.assert_array_equal(J[:, 0], np.eye(n)[stable[:, k - 1]])


def test_descending_network_jacobian_reverses_the_order() -> None:
    net = Network.from_comparators(3, [(1, 0), (2, 1), (1, 0)])  # descending bubble
    X = np.array([[3.0, -1.0, 7.0]])
    J = jacobian(compilers.compile(net, "residual"), X)
    np.testing.assert_array_equal(J, permutation_matrices(np.array([[2, 0, 1]])))


# -- grad --------------------------------------------------------------------------------
def replace_layer(model: CompiledModel, index: int, **changes: object) -> CompiledModel:
    layers = list(model.layers)
    layer = layers[index]
    fields = dict(
        weight=layer.weight,
        bias=layer.bias,
        activations=layer.activations,
        out_weight=layer.out_weight,
        skip=layer.skip,
    )
    fields.update(changes)
    layers[index] = Layer(**fields)  # type: ignore[arg-type]
    return CompiledModel(layers, model.metadata)


def finite_difference(model, X, dY, index, name, entry, h=1e-5):  # type: ignore[no-untyped-def]
    def loss(delta: float) -> float:
        layer = model.layers[index]
        value = getattr(layer, name)
        if name == "bias" or isinstance(value, np.ndarray):
            value = value.copy()
            value[entry] += delta
        else:
            value = value.copy().tolil()
            value[entry] = value[entry] + delta
            value = scipy.sparse.csr_array(value)
        changed = replace_layer(model, index, **{name: value})
        return float(np.sum(dY * changed(X, engine="numpy")))

    return (loss(h) - loss(-h)) / (2 * h)


@pytest.mark.parametrize("lowering", ("relu", "residual", "softplus"))
def test_grad_matches_finite_differences(lowering: str) -> None:
    rng = np.random.default_rng(5)
    model = model_for("bitonic", 4, lowering)
    X = separated_rows(rng, 4, rows=8)
    dY = rng.standard_normal((8, 4))
    grads = grad(model, X, dY)
    assert len(grads) == len(model.layers) and all(isinstance(g, LayerGrad) for g in grads)
    checked = 0
    for index, (layer, layer_grad) in enumerate(zip(model.layers, grads, strict=True)):
        for name, matrix in layer.matrices().items():
            gradient = getattr(layer_grad, name)
            assert gradient.shape == matrix.shape
            for entry in [(0, 0), tuple(np.argwhere(matrix != 0)[-1])]:
                expected = finite_difference(model, X, dY, index, name, entry)
                assert gradient[entry] == pytest.approx(expected, abs=1e-6)
                checked += 1
        for unit in (0, layer.units - 1):
            expected = finite_difference(model, X, dY, index, "bias", unit)
            assert layer_grad.bias[unit] == pytest.approx(expected, abs=1e-6)
    assert checked >= 2 * len(model.layers)


def test_grad_keeps_the_sparsity_pattern_of_sparse_weights() -> None:
    rng = np.random.default_rng(6)
    model = compilers.compile(sortnet.network("bitonic", 32), "relu")
    sparse = [
        (index, name, matrix)
        for index, layer in enumerate(model.layers)
        for name, matrix in layer.matrices().items()
        if not isinstance(matrix, np.ndarray)
    ]
    assert sparse, "expected CSR weights at n = 32"
    X = rng.standard_normal((5, 32))
    dY = rng.standard_normal((5, 32))
    grads = grad(model, X, dY)
    for index, name, matrix in sparse[:3]:
        gradient = getattr(grads[index], name)
        assert scipy.sparse.issparse(gradient)
        np.testing.assert_array_equal(gradient.indptr, matrix.indptr)
        np.testing.assert_array_equal(gradient.indices, matrix.indices)
    # The stored entries hold the dense gradient's values there.
    index, name, matrix = sparse[0]
    dense_model = replace_layer(model, index, **{name: matrix.toarray()})
    dense = getattr(grad(dense_model, X, dY)[index], name)
    rows, cols = matrix.nonzero()
    np.testing.assert_allclose(getattr(grads[index], name)[rows, cols], dense[rows, cols])


# -- straight-through ---------------------------------------------------------------------
def straight_through_reference(net: Network, X: np.ndarray, beta: float) -> np.ndarray:
    """Comparator by comparator: hard min/max forward, [[1-p, p], [p, 1-p]] backward."""
    rows, n = X.shape
    values = X.copy()
    P = np.tile(np.eye(n), (rows, 1, 1))
    for i, j in net.comparators:
        a, b = values[:, i].copy(), values[:, j].copy()
        p = expit(beta * (a - b))[:, None]
        low, high = P[:, i].copy(), P[:, j].copy()
        P[:, i], P[:, j] = (1 - p) * low + p * high, p * low + (1 - p) * high
        values[:, i], values[:, j] = np.minimum(a, b), np.maximum(a, b)
    return P[:, [net.outputs[p] for p in range(n)]]


@pytest.mark.parametrize("lowering", EXACT)
@pytest.mark.parametrize("family", ["bitonic", "best", "odd-even-transposition"])
def test_straight_through_is_the_softplus_comparator_jacobian(lowering: str, family: str) -> None:
    rng = np.random.default_rng(7)
    net = sortnet.network(family, 8)
    X = rng.standard_normal((15, 8))
    X[0] = 0.0  # ties: the relaxation is smooth, no tie rule needed
    for beta in (0.5, 3.0):
        J = jacobian(compilers.compile(net, lowering), X, steepness=beta)
        np.testing.assert_allclose(J, straight_through_reference(net, X, beta), atol=1e-12)
        assert J.min() >= 0 and J.max() <= 1
        np.testing.assert_allclose(J.sum(axis=1), 1, atol=1e-12)  # doubly stochastic
        np.testing.assert_allclose(J.sum(axis=2), 1, atol=1e-12)


def test_gap_scale_matches_the_gadgets() -> None:
    """The abs and relu gadgets see half the gap; residual the whole gap."""
    net = Network.from_comparators(2, [(0, 1)])
    for lowering in EXACT:
        layer = compilers.compile(net, lowering).layers[0]
        nonlinear = [u for u, a in enumerate(layer.activations) if a in ("abs", "relu")]
        weight = layer.weight
        gaps = [abs(weight[u, 0]) for u in nonlinear if weight[u, 0] == -weight[u, 1]]
        assert gaps and set(gaps) == {GAP_SCALE.get(lowering, 1.0)}


def test_straight_through_tends_to_the_exact_jacobian() -> None:
    rng = np.random.default_rng(8)
    model = compilers.compile(sortnet.network("odd-even-merge", 8), "residual")
    X = rng.standard_normal((30, 8))
    exact = jacobian(model, X)
    gaps = [np.abs(jacobian(model, X, steepness=beta) - exact).max() for beta in (1, 10, 100, 1e4)]
    assert gaps == sorted(gaps, reverse=True) and gaps[0] > 0.1
    # min gap of these rows ~1e-3: beta = 1e6 saturates every sigmoid
    np.testing.assert_allclose(jacobian(model, X, steepness=1e8), exact, atol=1e-12)


def test_straight_through_vjp_keeps_the_forward_exact() -> None:
    rng = np.random.default_rng(9)
    model = compilers.compile(sortnet.network("bitonic", 4), "abs")
    X = rng.standard_normal((10, 4))
    dY = rng.standard_normal((10, 4))
    J = jacobian(model, X, steepness=2.0)
    np.testing.assert_allclose(vjp(model, X, dY, steepness=2.0), np.einsum("ro,roi->ri", dY, J))


# -- engine: chunks, threads, dtypes, counting, errors --------------------------------------
def test_chunking_and_threads_do_not_change_results() -> None:
    rng = np.random.default_rng(10)
    model = compilers.compile(sortnet.network("bitonic", 8), "relu")
    X = rng.integers(-3, 4, (50, 8)).astype(np.float64)
    dY = rng.standard_normal((50, 8))
    np.testing.assert_array_equal(vjp(model, X, dY, chunk_rows=3), vjp(model, X, dY))
    np.testing.assert_array_equal(
        jacobian(model, X, chunk_rows=3, threads=2), jacobian(model, X, threads=1)
    )
    one, chunked = grad(model, X, dY, threads=1), grad(model, X, dY, chunk_rows=3, threads=2)
    for a, b in zip(one, chunked, strict=True):
        np.testing.assert_allclose(a.weight, b.weight, atol=1e-12)
        np.testing.assert_allclose(a.bias, b.bias, atol=1e-12)


def test_dtype_follows_model_call_and_1d_rows() -> None:
    model = compilers.compile(sortnet.network("bitonic", 4), "residual")
    X = np.array([[3.0, 1.0, 4.0, 2.0]], dtype=np.float32)
    assert vjp(model, X, np.ones((1, 4), np.float32)).dtype == np.float32
    assert jacobian(model, X).dtype == np.float32
    assert jacobian(model, X, dtype=np.float64).dtype == np.float64
    assert vjp(model, [3, 1, 4, 2], [1, 0, 0, 0]).tolist() == [0.0, 1.0, 0.0, 0.0]
    assert jacobian(model, [3, 1, 4, 2]).shape == (4, 4)


def test_counting_model_jacobian_is_the_stable_argsort_too() -> None:
    """Steps and indicators have derivative 0, but the big-M gates pass each x through linearly."""
    rng = np.random.default_rng(11)
    model = compilers.compile(sortnet.counting_network(5), bound=100)
    X = np.concatenate([rng.standard_normal((10, 5)), rng.integers(-1, 2, (10, 5))])
    stable = np.argsort(X, axis=1, kind="stable")
    np.testing.assert_array_equal(jacobian(model, X), permutation_matrices(stable))


def message(call) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError) as raised:
        call()
    return str(raised.value)


@pytest.mark.parametrize(
    "X",
    [
        np.array([[1.0, np.nan, 0.0]]),
        np.array([[1.0, np.inf, 0.0]]),
        np.zeros((2, 4)),
        np.zeros((2, 3, 1)),
        np.array([["a", "b", "c"]]),
        np.array([[1e307, 0.0, 0.0]]),
    ],
)
def test_bad_inputs_are_refused_like_model_call(X: np.ndarray) -> None:
    model = compilers.compile(sortnet.network("bubble", 3), "residual")
    expected = message(lambda: model(X))
    dY = np.zeros((X.shape[0], 3))
    assert message(lambda: vjp(model, X, dY)) == expected
    assert message(lambda: jacobian(model, X)) == expected
    assert message(lambda: grad(model, X, dY)) == expected


def test_bad_upstream_and_steepness_are_refused() -> None:
    model = compilers.compile(sortnet.network("bubble", 3), "residual", k=2)
    X = np.zeros((2, 3))
    assert "dY has shape (2, 3) but model(X) has shape (2, 1)" in message(
        lambda: vjp(model, X, np.zeros((2, 3)))
    )
    assert "NaN" in message(lambda: vjp(model, X, np.full((2, 1), np.nan)))
    with pytest.raises(SortnetError, match="steepness must be a number"):
        vjp(model, X, np.zeros((2, 1)), steepness=0.0)
    with pytest.raises(SortnetError, match="steepness must be a number"):
        jacobian(model, X, steepness="5")

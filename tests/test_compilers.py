"""Compilers: seed constructions, every family x lowering x k, exactness, bad arguments."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import compilers
import sortnet
from compilers.lower import live_layers
from sortnet.circuit.run import sort as circuit_sort
from sortnet.errors import InputError, SortnetError
from sortnet.network import Network
from sortnet.select import resolve_k, select

LOWERINGS = ("abs", "relu", "residual")
SIZES = (1, 2, 3, 4, 5, 7, 8, 9, 12, 16)
FAMILIES = sortnet.list_families()

BUBBLE_4 = [(0, 1), (1, 2), (2, 3), (0, 1), (1, 2), (0, 1)]  # 6 Sort_2 modules
MERGE_4 = [(0, 1), (2, 3), (0, 2), (1, 3), (1, 2)]  # Batcher: 5 modules


def adversarial_rows(rng: np.random.Generator, n: int, rows: int = 300) -> np.ndarray:
    """Random rows with many ties, negatives, zeros and a few large magnitudes.

    Values are dyadic (multiples of 1/8), so every lowering must be bit-exact on them.
    """
    X = rng.integers(-3, 4, (rows, n)).astype(np.float64)
    X[: rows // 3] = (rng.standard_normal((rows // 3, n)) * 8).round() / 8
    X[rows // 3 : rows // 2] *= 1e6
    X[rng.random((rows, n)) < 0.1] = 0.0
    return X


def zero_one_rows(n: int) -> np.ndarray:
    codes = np.arange(1 << n)
    return ((codes[:, None] >> np.arange(n)) & 1).astype(np.float64)


# -- the seed constructions (ARCHITECTURE.md, "The seed constructions") ---------------------
def test_sort2_abs_weights_are_the_ascending_construction() -> None:
    model = compilers.compile(Network.from_comparators(2, [(0, 1)]), "abs")
    hidden, out = model.layers
    np.testing.assert_array_equal(hidden.weight, [[0.5, -0.5], [0.5, 0.5]])
    assert hidden.activations == ("abs", "identity")
    np.testing.assert_array_equal(hidden.bias, [0, 0])
    np.testing.assert_array_equal(out.weight, [[-1, 1], [1, 1]])
    assert out.activations == ("identity", "identity")
    X = np.array([[3.0, -1.0], [-2.0, -5.0], [-7.5, 2.25], [4.0, 4.0], [0.0, -0.0]])
    np.testing.assert_array_equal(model(X), np.sort(X, axis=1))  # min first, all reals


@pytest.mark.parametrize("lowering", LOWERINGS)
def test_bubble_4_six_modules_depth_five(lowering: str) -> None:
    net = Network.from_comparators(4, BUBBLE_4)
    assert (net.size, net.depth) == (6, 5)
    model = compilers.compile(net, lowering)
    assert model.depth == 5
    assert len(model.layers) == (5 if lowering == "residual" else 6)
    X = zero_one_rows(4)
    np.testing.assert_array_equal(model(X), np.sort(X, axis=1))


@pytest.mark.parametrize("lowering", LOWERINGS)
def test_batcher_merge_4_five_modules_depth_three(lowering: str) -> None:
    net = Network.from_comparators(4, MERGE_4)
    model = compilers.compile(net, lowering)
    assert (net.size, model.depth) == (5, 3)
    X = adversarial_rows(np.random.default_rng(4), 4)
    np.testing.assert_array_equal(model(X), np.sort(X, axis=1))


def test_w3_at_n4_k3_is_one_hot_before_fusion() -> None:
    model = compilers.compile(Network.from_comparators(4, MERGE_4), "abs", k=3)
    np.testing.assert_array_equal(model.readout, [[0, 0, 1, 0]])
    assert model.layers[-1].outputs == 1 and model.k == 3
    X = np.array([[4.0, -1.0, 3.0, 2.0]])
    assert model(X).shape == (1, 1) and model(X)[0, 0] == 3.0


def test_units_per_gadget() -> None:
    net = Network.from_comparators(3, [(0, 1)])  # wire 2 idles
    widths = {low: compilers.compile(net, low).layers[0].units for low in LOWERINGS}
    assert widths == {"abs": 2 + 1, "relu": 4 + 2, "residual": 1}
    assert compilers.compile(net, "residual").layers[0].residual


# -- every family x lowering x k -------------------------------------------------------------
@pytest.mark.parametrize("lowering", LOWERINGS)
@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_matches_np_sort_and_circuit(family: str, lowering: str) -> None:
    rng = np.random.default_rng(len(family))
    for n in SIZES:
        net = sortnet.network(family, n)
        X = adversarial_rows(rng, n)
        binary = zero_one_rows(n)
        for k in (None, 1, "median", n):
            model = compilers.compile(net, lowering, k)
            expected = circuit_sort(X, net, k=k)
            if k is None:
                assert model.depth == net.depth, (family, n)
            else:
                assert model.depth == select(net, k).depth
                assert model.n_outputs == 1
            np.testing.assert_array_equal(model(X), expected, err_msg=f"{family} {n} {k}")
            rank = resolve_k(net, k) if k is not None else None
            sorted_rows = np.sort(X, axis=1)
            want = sorted_rows if rank is None else sorted_rows[:, rank - 1 : rank]
            np.testing.assert_array_equal(model(X), want)
            got = model(binary)
            sorted_binary = np.sort(binary, axis=1)
            want = sorted_binary if rank is None else sorted_binary[:, rank - 1 : rank]
            np.testing.assert_array_equal(got, want, err_msg=f"0-1 {family} {n} {k}")


@pytest.mark.parametrize("lowering", LOWERINGS)
def test_descending_networks_keep_their_output_order(lowering: str) -> None:
    rng = np.random.default_rng(1)
    for n in (2, 5, 8):
        net = sortnet.network("bitonic", n, descending=True)
        X = adversarial_rows(rng, n)
        np.testing.assert_array_equal(compilers.compile(net, lowering)(X), circuit_sort(X, net))
        kth = compilers.compile(net, lowering, k=2)(X)
        np.testing.assert_array_equal(kth[:, 0], np.sort(X, axis=1)[:, 1])


def test_selection_carries_only_live_wires() -> None:
    net = sortnet.network("bubble", 6)
    pruned = select(net, 1)
    full = compilers.compile(net, "abs")
    low = compilers.compile(net, "abs", k=1)
    assert low.nonzeros < full.nonzeros
    for comparators, live in live_layers(pruned):
        assert comparators and live  # no empty (pass-through-only) layer


# -- exactness contract ----------------------------------------------------------------------
@pytest.mark.parametrize("lowering", LOWERINGS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bit_exact_on_integers_below_2_to_p_minus_2(lowering: str, dtype: type) -> None:
    p = np.finfo(dtype).nmant + 1
    limit = 2 ** (p - 2) - 1
    rng = np.random.default_rng(p)
    values = np.array([-limit, -limit + 1, -limit + 2, -1, 0, 1, limit - 2, limit - 1, limit])
    X = rng.choice(values, size=(2000, 16)).astype(dtype)
    X[:500] = rng.integers(-limit, limit + 1, (500, 16))
    model = compilers.compile(sortnet.network("odd-even-merge", 16), lowering)
    Y = model(X)
    assert Y.dtype == dtype
    np.testing.assert_array_equal(Y, np.sort(X, axis=1))


@pytest.mark.parametrize("lowering", LOWERINGS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_error_within_stated_bound(lowering: str, dtype: type) -> None:
    rng = np.random.default_rng(7)
    X = rng.standard_normal((3000, 16)) * rng.choice([1e-20, 1.0, 1e20], size=(3000, 1))
    X = X.astype(dtype)
    model = compilers.compile(sortnet.network("bitonic", 16), lowering)
    error = np.abs(model(X).astype(np.float64) - np.sort(X, axis=1).astype(np.float64))
    bound = model.error_bound(X, dtype)
    assert np.all(error <= bound[:, None])
    assert np.any(error > 0) or dtype == np.float64  # the bound is not vacuous in float32


def test_executor_matches_reference_layers_and_is_chunk_invariant() -> None:
    model = compilers.compile(sortnet.network("pairwise", 12), "abs")
    X = np.random.default_rng(3).standard_normal((1001, 12))
    Y = model(X)
    np.testing.assert_array_equal(model(X, chunk_rows=7, threads=3), Y)
    np.testing.assert_allclose(model.forward_reference(X), Y, rtol=0, atol=1e-12)
    # A single 1-D row (BLAS may sum in another order: equal within the error bound).
    np.testing.assert_allclose(model(X[5]), Y[5], rtol=0, atol=model.error_bound(X[5]))


def test_integer_and_bool_input_run_in_float64() -> None:
    model = compilers.compile(sortnet.network("bubble", 3))
    Y = model(np.array([[3, 1, 2]]))
    assert Y.dtype == np.float64 and Y.tolist() == [[1, 2, 3]]
    assert model(np.array([[True, False, True]])).tolist() == [[0, 1, 1]]


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 7),
    data=st.data(),
    lowering=st.sampled_from(LOWERINGS),
)
def test_any_comparator_network_matches_circuit_executor(n: int, data, lowering: str) -> None:
    """Differential: arbitrary (even non-sorting) networks compile to their circuit."""
    pair = st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)).filter(lambda p: p[0] != p[1])
    comparators = data.draw(st.lists(pair, max_size=12)) if n > 1 else []
    net = Network.from_comparators(n, comparators)
    rows = data.draw(
        st.lists(st.lists(st.integers(-50, 50), min_size=n, max_size=n), min_size=1, max_size=20)
    )
    X = np.array(rows, dtype=np.float64)
    np.testing.assert_array_equal(compilers.compile(net, lowering)(X), circuit_sort(X, net))


# -- bad arguments and inputs ----------------------------------------------------------------
@pytest.fixture(scope="module")
def model4() -> sortnet.CompiledModel:
    return compilers.compile(sortnet.network("bitonic", 4))


def test_wrong_width_refused(model4: sortnet.CompiledModel) -> None:
    with pytest.raises(InputError, match="X has width 3 but the model takes n=4"):
        model4(np.zeros((2, 3)))


def test_wrong_ndim_refused(model4: sortnet.CompiledModel) -> None:
    with pytest.raises(InputError, match=r"X must have shape \(batch, 4\)"):
        model4(np.zeros((2, 2, 4)))


def test_nan_refused(model4: sortnet.CompiledModel) -> None:
    X = np.zeros((5000, 4))
    X[4321, 2] = np.nan
    with pytest.raises(InputError, match="X contains NaN at row 4321, column 2"):
        model4(X, chunk_rows=100, threads=2)


def test_infinity_refused(model4: sortnet.CompiledModel) -> None:
    with pytest.raises(InputError, match="X contains an infinity at row 0, column 1"):
        model4(np.array([[0.0, -np.inf, 1.0, 2.0]]))


def test_overflowing_magnitude_refused(model4: sortnet.CompiledModel) -> None:
    with pytest.raises(InputError, match="outside the overflow limit .* for float32"):
        model4(np.array([[0, 1e38, 1, 2]], dtype=np.float32))


def test_non_numeric_input_refused(model4: sortnet.CompiledModel) -> None:
    with pytest.raises(InputError, match="X must hold real numbers, got dtype <U1"):
        model4(np.array([["a", "b", "c", "d"]]))


def test_bad_dtype_refused(model4: sortnet.CompiledModel) -> None:
    with pytest.raises(InputError, match="dtype must be float32 or float64, got int32"):
        model4(np.zeros((1, 4)), dtype=np.int32)


@pytest.mark.parametrize("k", [0, 5, "middle", 2.5])
def test_k_out_of_range_refused(k: object) -> None:
    with pytest.raises(InputError, match="k must be"):
        compilers.compile(sortnet.network("bitonic", 4), "relu", k)  # type: ignore[arg-type]


def test_unknown_lowering_refused() -> None:
    with pytest.raises(compilers.CompileError, match="unknown lowering 'sigmoid'"):
        compilers.compile(sortnet.network("bitonic", 4), "sigmoid")


def test_not_a_network_refused() -> None:
    with pytest.raises(compilers.CompileError, match="compile needs a sortnet Network, got list"):
        compilers.compile([(0, 1)])  # type: ignore[arg-type]


@pytest.mark.parametrize("bound", [0, -1.0, float("inf"), float("nan"), 2.0**121, "big"])
def test_bad_bound_refused(bound: object) -> None:
    with pytest.raises(compilers.CompileError, match="bound must be a positive number"):
        compilers.compile(sortnet.network("bitonic", 4), bound=bound)  # type: ignore[arg-type]


def test_bound_on_comparator_model_is_enforced() -> None:
    model = compilers.compile(sortnet.network("bitonic", 4), bound=100)
    assert model.bound == 100.0
    np.testing.assert_array_equal(model(np.array([[100.0, -100, 0, 1]])), [[-100, 0, 1, 100]])
    with pytest.raises(InputError, match=r"X\[0, 1\] = -101 is outside the model's input bound"):
        model(np.array([[1.0, -101, 0, 1]]))


def test_errors_are_sortnet_errors() -> None:
    assert issubclass(compilers.CompileError, SortnetError)

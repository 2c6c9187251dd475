"""The numba reverse-mode engine of ``model.vjp`` / ``model.jacobian`` equals the numpy engine."""

from __future__ import annotations

import numpy as np
import pytest

import compilers
import sortnet
from sortnet.errors import SortnetError
from sortnet.nn import vjp_numba
from sortnet.nn.autodiff import jacobian, vjp
from sortnet.nn.model import CompiledModel
from sortnet.nn.vjp_codegen import get_vjp_kernel

pytest.importorskip("numba")


@pytest.fixture(autouse=True)
def generic_only(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the generic kernel even where a straight-line kernel is cached (but in its test)."""
    if "straight" not in request.node.name:
        monkeypatch.setattr(vjp_numba, "ready_kernel", lambda model, dtype: None)


def model_for(lowering: str, n: int = 8, k: int | None = None) -> CompiledModel:
    net = sortnet.network("bitonic", n)
    if lowering == "softplus":
        return compilers.compile(net, "softplus", k=k, steepness=4.0)
    return compilers.compile(net, lowering, k=k)


def both(model: CompiledModel, X: np.ndarray, dY: np.ndarray, **options: object) -> tuple:  # type: ignore[type-arg]
    return (
        vjp(model, X, dY, engine="numpy", **options),  # type: ignore[arg-type]
        vjp(model, X, dY, engine="numba", **options),  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [None, 3])
@pytest.mark.parametrize("lowering", ["abs", "relu", "residual"])
def test_exact_on_integer_rows_distinct_and_tied(lowering: str, k: int | None, dtype: type) -> None:
    rng = np.random.default_rng(1)
    model = model_for(lowering, k=k)
    distinct = np.array([rng.permutation(8) for _ in range(50)], dtype=dtype) - 4
    tied = rng.integers(-2, 3, (200, 8)).astype(dtype)  # many ties, and zeros
    for X in (distinct, tied):
        dY = rng.integers(-5, 6, (X.shape[0], model.n_outputs)).astype(dtype)
        expected, got = both(model, X, dY)
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, expected)
        J = jacobian(model, X, engine="numba")
        np.testing.assert_array_equal(J, jacobian(model, X, engine="numpy"))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("lowering", ["abs", "relu", "residual", "softplus"])
def test_within_rounding_on_random_floats(lowering: str, dtype: type) -> None:
    rng = np.random.default_rng(2)
    model = model_for(lowering)
    X = rng.normal(size=(300, 8)).astype(dtype)
    dY = rng.normal(size=(300, 8)).astype(dtype)
    expected, got = both(model, X, dY)
    tolerance = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, expected, rtol=tolerance, atol=tolerance)


def test_counting_model_matches_numpy() -> None:
    model = compilers.compile(sortnet.counting_network(5), bound=100)
    rng = np.random.default_rng(3)
    X = rng.integers(-9, 10, (100, 5)).astype(np.float64)
    dY = rng.integers(-3, 4, (100, model.n_outputs)).astype(np.float64)
    expected, got = both(model, X, dY)
    np.testing.assert_array_equal(got, expected)


def test_chunks_threads_and_1d_rows() -> None:
    model = model_for("relu")
    rng = np.random.default_rng(4)
    X = rng.integers(-3, 4, (1000, 8)).astype(np.float32)
    dY = rng.integers(-3, 4, (1000, 8)).astype(np.float32)
    whole = vjp(model, X, dY, engine="numba")
    for rows, threads in ((1, 1), (7, 3), (130, 2)):
        chunked = vjp(model, X, dY, engine="numba", chunk_rows=rows, threads=threads)
        np.testing.assert_array_equal(chunked, whole)
    np.testing.assert_array_equal(vjp(model, X[5], dY[5], engine="numba"), whole[5])
    assert jacobian(model, X[5], engine="numba").shape == (8, 8)


def test_engine_argument_errors() -> None:
    model = model_for("relu")
    X, dY = np.zeros((2, 8)), np.zeros((2, 8))
    with pytest.raises(SortnetError, match="unknown kernel back end"):
        vjp(model, X, dY, engine="gpu")
    with pytest.raises(SortnetError, match="numpy engine only"):
        vjp(model, X, dY, engine="numba", steepness=1.0)
    with pytest.raises(SortnetError, match="numpy engine only"):
        jacobian(model, X, engine="numba", steepness=1.0)
    # auto falls back to numpy for straight-through
    assert vjp(model, X, dY, engine="auto", steepness=1.0).shape == (2, 8)


@pytest.mark.parametrize(
    ("lowering", "dtype"),
    [("relu", np.float32), ("softplus", np.float64), ("counting", np.float64)],
)
def test_straight_line_kernel_matches_numpy(lowering: str, dtype: type) -> None:
    if lowering == "counting":
        model = compilers.compile(sortnet.counting_network(4), bound=100)
    else:
        model = model_for(lowering, n=4)
    get_vjp_kernel(model, dtype)  # compiled: vjp runs it from now on
    assert vjp_numba.ready_kernel(model, dtype) is not None
    rng = np.random.default_rng(5)
    tied = rng.integers(-2, 3, (300, 4)).astype(dtype)
    dY = rng.integers(-5, 6, (300, model.n_outputs)).astype(dtype)
    expected, got = both(model, tied, dY)
    if lowering == "softplus":
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    else:
        np.testing.assert_array_equal(got, expected)
    X = rng.normal(size=(300, 4)).astype(dtype)
    expected, got = both(model, X, dY) if lowering != "counting" else both(model, tied, dY)
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, expected, rtol=tolerance, atol=tolerance)

"""The softplus lowering and soft permutations: monotone, doubly stochastic, close to sort."""

from __future__ import annotations

import math

import numpy as np
import pytest

import compilers
import sortnet
from compilers import CompileError
from sortnet.errors import InputError, SortnetError
from sortnet.nn.activations import input_bound
from sortnet.nn.autodiff import jacobian
from sortnet.nn.soft import soft_permutation

FAMILIES = sortnet.list_families()
SIZES = (2, 3, 4, 5, 8, 16, 32)


def networks():  # type: ignore[no-untyped-def]
    for family in FAMILIES:
        for n in SIZES:
            if family == "best" and n > 16:
                continue  # best-known networks are tabulated up to 16
            yield family, n


def rows(n: int, count: int = 12, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed + n)
    X = rng.standard_normal((count, n)) * 3
    X[0] = 0.0  # all tied
    X[1] = rng.integers(-1, 2, n)  # some ties
    return X


@pytest.mark.parametrize("family", FAMILIES)
def test_softplus_properties_every_family(family: str) -> None:
    """Monotone, doubly stochastic Jacobian, row sums kept, error <= depth log 2 / beta."""
    for name, n in networks():
        if name != family:
            continue
        net = sortnet.network(family, n)
        X = rows(n)
        beta = 2.0
        model = compilers.compile(net, "softplus", steepness=beta)
        Y = model(X, engine="numpy")
        J = jacobian(model, X)
        assert J.min() >= -1e-12 and J.max() <= 1 + 1e-12  # monotone, entries in [0, 1]
        np.testing.assert_allclose(J.sum(axis=1), 1, atol=1e-9)  # columns
        np.testing.assert_allclose(J.sum(axis=2), 1, atol=1e-9)  # rows
        np.testing.assert_allclose(Y.sum(axis=1), X.sum(axis=1), atol=1e-9 * n * n)
        bound = net.depth * math.log(2) / beta
        error = np.abs(Y - np.sort(X, axis=1))
        assert error.max() <= bound + 1e-9
        assert error.max() > 0.01 * bound  # the bound is not vacuous here


def test_error_bound_is_attained_on_ties_and_shrinks_with_beta() -> None:
    net = sortnet.network("bubble", 2)  # depth 1: min(0, 0) = -log(2) / beta exactly
    for beta in (1.0, 8.0, 1024.0):
        model = compilers.compile(net, "softplus", steepness=beta)
        np.testing.assert_allclose(model([0.0, 0.0]), [-math.log(2) / beta, math.log(2) / beta])
    X = rows(16, count=30)
    net = sortnet.network("bitonic", 16)
    errors = [
        np.abs(compilers.compile(net, "softplus", steepness=b)(X) - np.sort(X, axis=1)).max()
        for b in (1.0, 10.0, 100.0, 1e4)
    ]
    assert errors == sorted(errors, reverse=True)
    assert errors[-1] <= net.depth * math.log(2) / 1e4


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_steepness_is_stable(dtype: type) -> None:
    net = sortnet.network("odd-even-merge", 8)
    beta = 2.0**40
    model = compilers.compile(net, "softplus", steepness=beta)
    X = (np.random.default_rng(1).standard_normal((50, 8)) * 1e3).astype(dtype)
    X[0] = 0  # beta * |a - b| ranges from 0 to ~1e16: exp would overflow without care
    Y = model(X, engine="numpy")
    assert Y.dtype == dtype and np.isfinite(Y).all()
    # depth log(2) / beta (~4e-12) plus rounding of the order of the exact models' bound
    rounding = 8 * (net.depth + 1) * np.finfo(dtype).eps * np.abs(X).max(axis=1, keepdims=True)
    error = np.abs(Y - np.sort(X, axis=1))
    assert (error <= net.depth * math.log(2) / beta + rounding).all()
    J = jacobian(model, X)
    P = soft_permutation(X, net, beta)
    assert np.isfinite(J).all() and np.isfinite(P).all()
    distinct = np.argsort(X[1:], axis=1)
    expected = np.zeros_like(P[1:])
    expected[np.arange(49)[:, None], np.arange(8), distinct] = 1
    np.testing.assert_array_equal(P[1:], expected)
    # all tied: every p = 1/2, still a doubly stochastic matrix
    np.testing.assert_allclose(P[0].sum(axis=0), 1, rtol=1e-6)
    np.testing.assert_allclose(P[0].sum(axis=1), 1, rtol=1e-6)


@pytest.mark.parametrize("family", FAMILIES)
def test_soft_permutation_is_the_softplus_jacobian(family: str) -> None:
    for n in (2, 5, 8, 16):
        net = sortnet.network(family, n)
        X = rows(n, seed=2)
        for beta in (0.5, 4.0):
            P = soft_permutation(X, net, beta)
            model = compilers.compile(net, "softplus", steepness=beta)
            np.testing.assert_allclose(P, jacobian(model, X), atol=1e-12)


def test_soft_permutation_kth_row_is_the_kth_model_jacobian_and_1d() -> None:
    net = sortnet.network("bitonic", 8)
    X = rows(8, seed=3)
    P = soft_permutation(X, net, 3.0)
    for k in (1, 4, 8):
        model = compilers.compile(net, "softplus", k, steepness=3.0)
        np.testing.assert_allclose(jacobian(model, X)[:, 0], P[:, k - 1], atol=1e-12)
    np.testing.assert_array_equal(soft_permutation(X[2], net, 3.0), P[2])
    assert soft_permutation(X.astype(np.float32), net, 3.0).dtype == np.float32


def test_soft_permutation_refuses_bad_arguments() -> None:
    net = sortnet.network("bitonic", 4)
    with pytest.raises(InputError, match="NaN"):
        soft_permutation([[0.0, np.nan, 1.0, 2.0]], net, 1.0)
    with pytest.raises(InputError, match="width 3"):
        soft_permutation([[0.0, 1.0, 2.0]], net, 1.0)
    with pytest.raises(InputError, match="outside"):
        soft_permutation([[0.0, 1.0, 2.0, 2.0**99]], net, 4.0)
    with pytest.raises(SortnetError, match="steepness"):
        soft_permutation([[0.0, 1.0, 2.0, 3.0]], net, math.inf)
    with pytest.raises(SortnetError, match="every output"):
        soft_permutation([[0.0, 1.0, 2.0, 3.0]], sortnet.select(net, 2), 1.0)
    with pytest.raises(SortnetError, match="comparator sorting network"):
        soft_permutation([[0.0, 1.0, 2.0, 3.0]], sortnet.counting_network(4), 1.0)


def test_compile_softplus_arguments() -> None:
    net = sortnet.network("bubble", 3)
    with pytest.raises(CompileError, match="needs a steepness"):
        compilers.compile(net, "softplus")
    with pytest.raises(CompileError, match="not 'abs'"):
        compilers.compile(net, "abs", steepness=1.0)
    with pytest.raises(CompileError, match="steepness must be a number"):
        compilers.compile(net, "softplus", steepness=-2)
    with pytest.raises(CompileError, match="counting"):
        compilers.compile(sortnet.counting_network(3), "softplus", steepness=1.0)
    model = compilers.compile(net, "softplus", steepness=2.0**10, bound=5.0)
    assert model.bound == 5.0 and model.metadata["steepness"] == 2.0**10
    assert compilers.compile(net, "softplus", steepness=2.0**10).bound == input_bound(2.0**10)
    with pytest.raises(InputError, match="outside the model's input bound"):
        model([[0.0, 1.0, 6.0]])


def test_save_load_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    model = compilers.compile(sortnet.network("bitonic", 8), "softplus", 3, steepness=3.0)
    model.save(tmp_path / "soft.npz")
    loaded = sortnet.load_model(tmp_path / "soft.npz")
    assert loaded.digest == model.digest and loaded.metadata["steepness"] == 3.0
    X = rows(8)
    np.testing.assert_array_equal(loaded(X, engine="numpy"), model(X, engine="numpy"))


def test_onnx_export_agrees(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    for beta in (0.5, 2.0**20):
        model = compilers.compile(sortnet.network("odd-even-merge", 8), "softplus", steepness=beta)
        model.to_onnx(tmp_path / "soft.onnx")
        session = ort.InferenceSession(str(tmp_path / "soft.onnx"))
        X = (rows(8, count=40) * 100).astype(np.float32)
        (Y,) = session.run(None, {"x": X})
        expected = model(X, engine="numpy")
        assert np.isfinite(Y).all()
        np.testing.assert_allclose(Y, expected, rtol=1e-5, atol=1e-4 * max(1.0, 1 / beta))


def test_numba_engine_agrees() -> None:
    pytest.importorskip("numba")
    model = compilers.compile(sortnet.network("bubble", 3), "softplus", steepness=5.0)
    X = rows(3, count=100) * 50
    np.testing.assert_allclose(model(X, engine="numba"), model(X, engine="numpy"), rtol=1e-14)
    X32 = X.astype(np.float32)
    np.testing.assert_allclose(model(X32, engine="numba"), model(X32, engine="numpy"), rtol=1e-6)


@pytest.mark.parametrize("bad", [-1.0, 0.0, "4", None])
def test_model_file_refuses_a_bad_steepness(tmp_path, bad):
    """The stored steepness describes the folded weights: a missing or bad one is refused."""
    import io
    import json
    import zipfile

    model = compilers.compile(sortnet.network("bubble", 3), "softplus", steepness=4.0)
    path = tmp_path / "soft.npz"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    with np.load(path, allow_pickle=False) as data:
        document = json.loads(str(data["metadata"][0]))
    assert document["model"]["steepness"] == 4.0
    document["model"]["steepness"] = bad
    buffer = io.BytesIO()
    np.save(buffer, np.array([json.dumps(document)]), allow_pickle=False)
    members["metadata.npy"] = buffer.getvalue()
    with zipfile.ZipFile(tmp_path / "bad.npz", "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(sortnet.ModelFormatError, match="steepness"):
        sortnet.load_model(tmp_path / "bad.npz")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_error_bound_covers_the_relaxation(dtype):
    """model.error_bound adds depth*log(2)/beta for softplus models (and holds)."""
    net = sortnet.network("bitonic", 8)
    model = compilers.compile(net, "softplus", steepness=2.0)
    X = np.random.default_rng(5).normal(0, 3, (200, 8)).astype(dtype)
    X[:20] = X[:20, :1]  # all-equal rows: the worst case of the relaxation
    bound = model.error_bound(X)
    assert np.all(bound >= net.depth * math.log(2) / 2.0)
    assert np.all(np.abs(model(X) - np.sort(X, axis=1)) <= bound[:, None])


def test_model_methods_delegate_to_autodiff():
    model = compilers.compile(sortnet.network("best", 5), "residual")
    X = np.random.default_rng(6).permutation(5)[None, :].astype(float)
    dY = np.arange(5.0)[None, :]
    np.testing.assert_array_equal(model.jacobian(X), jacobian(model, X))
    np.testing.assert_array_equal(model.vjp(X, dY), dY @ jacobian(model, X)[0])
    assert len(model.grad(X, dY)) == len(model.layers)

"""The precompiled C model kernel (sortnet.nn.native): bit for bit the numba generic kernel.

Every lowering, selection and counting models, several families and n (odd ones,
1, 2, 3, 17, 33, 64), float32 and float64, partial last blocks, several threads,
empty batches; the same refusals as the other engines; the fallback when the
library is absent; and a check that the extension is built wherever a C compiler is.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import compilers
import sortnet
from sortnet import _jit
from sortnet.errors import InputError
from sortnet.nn import kernels as model_kernels
from sortnet.nn import native

needs_native = pytest.mark.skipif(not native.available(), reason="extension not built")
needs_numba = pytest.mark.skipif(not _jit.numba_available(), reason="numba not installed")
BOTH = (np.float32, np.float64)
SIZES = [1, 2, 3, 4, 5, 8, 13, 16, 17, 32, 33, 64]
LOWERINGS = ("abs", "relu", "residual")


pytestmark = pytest.mark.usefixtures("module_kernel_cache")


def rows(n: int, count: int, dtype: type, seed: int = 0) -> np.ndarray:
    """Normal values with ties, zeros of both signs and integers mixed in."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((count, n)) * rng.choice([1e-3, 1.0, 1e3], size=(count, 1))
    special = rng.choice([0.0, -0.0, 1.0, -1.0, 2.0, 0.5], size=(count, n))
    X = np.where(rng.random((count, n)) < 0.2, special, X)
    return X.astype(dtype)


def run_native(model: sortnet.CompiledModel, X: np.ndarray) -> np.ndarray:
    Y = np.empty((X.shape[0], model.n_outputs), X.dtype)
    native.kernel(model, X.dtype)(X, Y)
    return Y


def run_generic(model: sortnet.CompiledModel, X: np.ndarray) -> np.ndarray:
    Y = np.empty((X.shape[0], model.n_outputs), X.dtype)
    model_kernels.generic_kernel(model, X.dtype)(X, Y)
    return Y


def same_bits(A: np.ndarray, B: np.ndarray) -> bool:
    bits = np.dtype(f"u{A.itemsize}")
    return A.shape == B.shape and bool(np.array_equal(A.view(bits), B.view(bits)))


def within_bound(model: sortnet.CompiledModel, X: np.ndarray, Y: np.ndarray, want: np.ndarray):
    bound = model.error_bound(X)
    assert np.all(np.abs(Y.astype(np.float64) - want) <= bound[:, None])


def test_extension_is_built_where_a_compiler_is() -> None:
    """CI notices a broken build: with a C compiler, the extension must load."""
    if not (shutil.which("cc") or shutil.which("gcc")):
        pytest.skip("no C compiler")
    assert native.available()
    assert native.library().sortnet_abi() == native.ABI


@needs_native
@pytest.mark.parametrize("lowering", LOWERINGS)
@pytest.mark.parametrize("dtype", BOTH)
def test_every_size_matches_the_generic_kernel_and_sorts(lowering: str, dtype: type) -> None:
    for n in SIZES:
        net = sortnet.network("best", n)
        model = compilers.compile(net, lowering)
        X = rows(n, 300, dtype, seed=n)  # 300: a partial last block
        Y = run_native(model, X)
        within_bound(model, X, Y, sortnet.sort(X.astype(np.float64), net))
        if _jit.numba_available():
            assert same_bits(Y, run_generic(model, X)), (lowering, n)


@needs_native
@pytest.mark.parametrize("family", ["bitonic", "odd-even-merge", "bubble", "insertion"])
def test_families(family: str) -> None:
    for n in (3, 7, 16, 33):
        try:
            net = sortnet.network(family, n)
        except sortnet.SortnetError:  # a family defined for powers of two only
            continue
        for lowering in LOWERINGS:
            model = compilers.compile(net, lowering)
            X = rows(n, 129, np.float32, seed=n)
            Y = run_native(model, X)
            within_bound(model, X, Y, sortnet.sort(X.astype(np.float64), net))
            if _jit.numba_available():
                assert same_bits(Y, run_generic(model, X)), (family, n, lowering)


@needs_native
@pytest.mark.parametrize("k", [1, "median", 5])
def test_selection_and_counting_models(k: object) -> None:
    net = sortnet.network("best", 9)
    X = np.stack([np.random.default_rng(s).permutation(9) - 4.0 for s in range(200)])
    for lowering in LOWERINGS:
        model = compilers.compile(net, lowering, k=k)
        for dtype in BOTH:
            Y = run_native(model, X.astype(dtype))
            np.testing.assert_array_equal(Y, model(X.astype(dtype), engine="numpy"))
            if _jit.numba_available():
                assert same_bits(Y, run_generic(model, X.astype(dtype)))
    counting = compilers.compile(sortnet.counting_network(5), k=k if k != 5 else 2)
    X5 = X[:, :5]
    for dtype in BOTH:  # step and indicator units, exact
        Y = run_native(counting, X5.astype(dtype))
        np.testing.assert_array_equal(Y, counting(X5.astype(dtype), engine="numpy"))
        if _jit.numba_available():
            assert same_bits(Y, run_generic(counting, X5.astype(dtype)))


@needs_native
def test_softplus_within_an_ulp_of_the_generic_kernel() -> None:
    """softplus calls the C library's exp and log1p: equal up to the last place."""
    net = sortnet.network("best", 6)
    model = compilers.compile(net, "softplus", steepness=10.0)
    for dtype in BOTH:
        X = rows(6, 260, dtype, seed=3)
        Y = run_native(model, X)
        within_bound(model, X, Y, np.sort(X.astype(np.float64), axis=1))
        if _jit.numba_available():
            np.testing.assert_allclose(
                Y, run_generic(model, X), rtol=8 * np.finfo(dtype).eps, atol=0
            )


@needs_native
@pytest.mark.parametrize("dtype", BOTH)
def test_model_call_uses_it_with_threads_chunks_and_empty_batches(dtype: type) -> None:
    net = sortnet.network("best", 12)
    model = compilers.compile(net, "relu")
    assert native.runs(model, dtype)
    X = rows(12, 20_077, dtype, seed=1)  # several chunks, a partial last block
    want = run_native(model, X)
    for threads in (1, 2, 3):
        assert same_bits(model(X, threads=threads), want)
    assert same_bits(model(X, chunk_rows=1000, threads=2), want)
    if _jit.numba_available():
        assert same_bits(want, run_generic(model, X))
    assert model(X[:0]).shape == (0, 12)
    assert same_bits(model(X[5]), want[5])


@needs_native
def test_refusals_are_those_of_the_other_engines() -> None:
    model = compilers.compile(sortnet.network("best", 4), "relu")
    X = rows(4, 3 * 4096, np.float64)
    X[9000, 2] = np.nan
    for engine in ("auto", "numpy"):
        with pytest.raises(InputError, match=r"^X contains NaN at row 9000, column 2$"):
            model(X, engine=engine)
    X[9000, 2] = np.inf
    with pytest.raises(InputError, match=r"^X contains an infinity at row 9000, column 2$"):
        model(X)
    bounded = compilers.compile(sortnet.network("best", 4), "relu", bound=10.0)
    X = np.clip(X, -5.0, 5.0)
    X[9000, 2] = 11.0
    with pytest.raises(InputError, match=r"X\[9000, 2\] = 11 is outside the model's input"):
        bounded(X)
    with pytest.raises(InputError, match="integer too large for an exact answer in float32"):
        model(np.array([[2**23, 0, 0, 0]]), dtype=np.float32)


@needs_native
@needs_numba
def test_fused_check_refuses_as_the_numba_engine_does() -> None:
    """Same chunks, same first refused chunk, same message (the kernel checks as it loads)."""
    model = compilers.compile(sortnet.network("best", 4), "relu", bound=10.0)
    base = np.clip(rows(4, 12_000, np.float32), -9.0, 9.0)
    for bad in ([(10, 1, 11.0), (3000, 2, np.nan)], [(7000, 0, -np.inf)], [(11_999, 3, 1e9)]):
        X = base.copy()
        for row, col, value in bad:
            X[row, col] = value
        messages = []
        for engine in ("auto", "numba"):
            with pytest.raises(InputError) as caught:
                model(X, engine=engine, threads=2)
            messages.append(str(caught.value))
        assert messages[0] == messages[1], messages
    kernel = native.kernel(model, np.float32)
    X = base[:300].copy()
    X[200, 1] = np.nan
    Y = np.empty_like(X)
    assert kernel(X, Y) == 200 and kernel(X, Y, 1.0) >= 0
    X[200, 1] = np.inf
    assert kernel(X, Y) == -1 and kernel(X, Y, 100.0) == 200 and kernel(X[:200], Y[:200]) == -1


def test_fallback_when_the_library_is_absent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(native, "library", lambda: None)
    model = compilers.compile(sortnet.network("best", 5), "abs")
    assert not native.available() and not native.runs(model, np.float64)
    X = np.stack([np.random.default_rng(s).permutation(5) * 1.0 for s in range(50)])
    np.testing.assert_array_equal(model(X), np.sort(X, axis=1))
    with pytest.raises(sortnet.SortnetError, match="was not built"):
        native.kernel(model, np.float64)


@needs_native
def test_engine_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    model = compilers.compile(sortnet.network("best", 5), "relu")
    X = np.stack([np.random.default_rng(s).permutation(5) * 1.0 for s in range(50)])
    assert native.runs(model, np.float64, "auto")
    assert not native.runs(model, np.float64, "numpy")
    assert not native.runs(model, np.float64, "numba")
    assert not native.supports(model, np.float16)
    monkeypatch.setenv(_jit.ENV_BACKEND, "numpy")
    assert not native.runs(model, np.float64)

    def refuse(*args: object) -> None:
        raise AssertionError("the C kernel ran")

    monkeypatch.setattr(native, "kernel", refuse)
    np.testing.assert_array_equal(model(X), np.sort(X, axis=1))  # the numpy engine
    if _jit.numba_available():
        monkeypatch.setenv(_jit.ENV_BACKEND, "numba")
        np.testing.assert_array_equal(model(X), np.sort(X, axis=1))
        assert model_kernels.is_compiled(model, np.float64)  # engine=numba compiled it
        monkeypatch.setenv(_jit.ENV_BACKEND, "auto")
        assert native.runs(model, np.float64)  # n <= 16: the C kernel was as fast or faster
        monkeypatch.setattr(native, "NATIVE_FIRST_MAX_N", 4)  # as for a model with n > 16:
        assert not native.runs(model, np.float64)  # the straight-line kernel is faster there
        np.testing.assert_array_equal(model(X), np.sort(X, axis=1))


@needs_native
def test_kernel_refuses_wrong_arrays() -> None:
    model = compilers.compile(sortnet.network("best", 3), "abs")
    kernel = native.kernel(model, np.float64)
    with pytest.raises(sortnet.SortnetError, match="C-contiguous"):
        kernel(np.zeros((4, 6))[:, ::2], np.zeros((4, 3)))
    with pytest.raises(sortnet.SortnetError, match="float64 arrays of shapes"):
        kernel(np.zeros((4, 3), np.float32), np.zeros((4, 3)))


@needs_native
@pytest.mark.parametrize("dtype", BOTH)
def test_unaligned_input(dtype: type) -> None:
    """A view at an odd byte offset (legal numpy) runs, not read misaligned."""
    model = compilers.compile(sortnet.network("best", 16), "relu")
    X = np.random.default_rng(3).standard_normal((700, 16)).astype(dtype)
    raw = np.zeros(X.nbytes + 1, np.uint8)
    view = raw[1:].view(X.dtype).reshape(X.shape)
    view[...] = X
    assert not view.flags.aligned
    np.testing.assert_array_equal(model(view), model(X))


@needs_native
def test_kernel_refuses_a_dtype_without_one() -> None:
    model = compilers.compile(sortnet.network("best", 3), "abs")
    with pytest.raises(sortnet.SortnetError, match="no precompiled model kernel for float16"):
        native.kernel(model, np.float16)


def test_relu_pairs_take_the_branch_free_loop_and_stream_only_their_terms() -> None:
    """Most units of a relu model are RELU_PAIR; a pair's second unit streams no term."""
    relu = compilers.compile(sortnet.network("best", 16), "relu")
    units, *_, terms, weights, _outputs = native._arrays(relu, np.dtype(np.float32))
    fast = (units[:, 3] & native.RELU_PAIR) != 0
    assert fast.sum() * 2 >= 0.9 * len(units)
    seconds = np.flatnonzero(fast) + 1
    assert np.all(units[seconds, 1] == units[seconds, 2])  # no terms of their own
    assert len(terms) == len(weights) == units[:, 2].max() < relu.nonzeros // 1.5
    abs_model = compilers.compile(sortnet.network("best", 16), "abs")
    assert not np.any(native._arrays(abs_model, np.dtype(np.float32))[0][:, 3] & native.RELU_PAIR)


@needs_native
@needs_numba
def test_a_large_batch_compiles_the_straight_line_kernel_in_the_background(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Above n = 16 a large batch runs on C while the faster kernel compiles, then on it."""
    monkeypatch.delenv(_jit.ENV_BACKEND, raising=False)
    monkeypatch.setattr(_jit, "AUTO_MIN_ELEMENTS", 2400)  # "large" for this test
    model = compilers.compile(sortnet.network("best", 24), "relu")
    X = np.random.default_rng(5).integers(-50, 50, (100, 24)).astype(np.float32)
    small = compilers.compile(sortnet.network("best", 16), "relu")
    for model_, batch in ((model, X[:99]), (small, X[:, :16].copy())):  # too small, n <= 16
        assert not native.straight_line_pays(model_, batch)
    monkeypatch.setenv(_jit.ENV_BACKEND, "numpy")
    assert not native.straight_line_pays(model, X)
    monkeypatch.delenv(_jit.ENV_BACKEND)
    assert native.straight_line_pays(model, X)
    started: list[object] = []
    real = model_kernels.compile_in_background
    monkeypatch.setattr(model_kernels, "compile_in_background", lambda m, d: started.append(m))
    np.testing.assert_array_equal(model(X[:99]), np.sort(X[:99], axis=1))
    assert started == []
    np.testing.assert_array_equal(model(X), np.sort(X, axis=1))  # the C kernel's answer
    assert started == [model]
    real(model, np.float32)  # the real thing: compiled on a daemon thread
    assert _jit.wait_for_background(timeout=120)
    assert model_kernels.is_compiled(model, np.float32) and not native.runs(model, np.float32)
    np.testing.assert_array_equal(model(X), np.sort(X, axis=1))  # now the straight-line kernel

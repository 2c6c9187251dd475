"""The C model kernel's fused multiply-adds change no bit (sortnet.nn.exact_products).

The kernel adds products with FMA only on blocks whose inputs are all 0 or at least
``fused_threshold`` in magnitude; these tests feed it inputs at, just below and far
below that threshold (subnormals included), in the same batch, and compare every bit
with the numba generic kernel, which never fuses. One test also shows that the check
matters: with it disabled, the fused copy gives other bits on subnormal inputs.
"""

from __future__ import annotations

import numpy as np
import pytest

import compilers
import sortnet
from sortnet import _jit
from sortnet.nn import native
from sortnet.nn.exact_products import fused_threshold
from sortnet.nn.layer import Layer
from sortnet.nn.model import CompiledModel

needs_both = pytest.mark.skipif(
    not (native.available() and _jit.numba_available()), reason="needs the extension and numba"
)
BOTH = (np.float32, np.float64)


def tiny_rows(model: CompiledModel, dtype: type, count: int, seed: int) -> np.ndarray:
    """Integers times a scale around the threshold or a subnormal, one scale per 128 rows.

    The kernel's blocks are 64 rows (BLOCK in _native.c), two per scale here, so some
    blocks hold only inputs at or above the threshold (run fused) and others some
    below (not fused).
    """
    rng = np.random.default_rng(seed)
    info = np.finfo(dtype)
    tiny = fused_threshold(model, dtype)
    scales = [tiny, tiny / 2, tiny * 3, float(info.smallest_subnormal), float(info.tiny), 1.0]
    scale = np.array(scales)[(np.arange(count) // 128) % len(scales)][:, None]
    return (rng.integers(-9, 10, size=(count, model.n)) * scale).astype(dtype)


def run(kernel: object, model: CompiledModel, X: np.ndarray) -> np.ndarray:
    Y = np.empty((X.shape[0], model.n_outputs), X.dtype)
    kernel(X, Y)  # type: ignore[operator]
    return Y


def bits(A: np.ndarray) -> np.ndarray:
    return A.view(np.dtype(f"u{A.itemsize}"))


@needs_both
@pytest.mark.parametrize("dtype", BOTH)
@pytest.mark.parametrize("lowering", ["abs", "relu", "residual"])
def test_tiny_and_subnormal_inputs_give_the_generic_kernels_bits(lowering: str, dtype: type):
    from sortnet.nn import kernels as model_kernels

    for n in (4, 9, 32):
        model = compilers.compile(sortnet.network("best", n), lowering)
        assert fused_threshold(model, dtype) > 0  # these blocks do run fused
        X = tiny_rows(model, dtype, 1000, seed=n)
        want = run(model_kernels.generic_kernel(model, X.dtype), model, X)
        assert np.array_equal(bits(run(native.kernel(model, X.dtype), model, X)), bits(want))


@needs_both
@pytest.mark.parametrize("dtype", BOTH)
@pytest.mark.parametrize("lowering", ["abs", "relu", "residual"])
def test_the_straight_line_kernel_gives_the_same_bits(lowering: str, dtype: type) -> None:
    """Its relu pairs (``-z``) and guarded fused multiply-adds change no bit either."""
    from sortnet.nn import kernels as model_kernels

    for n in (4, 9, 32):
        model = compilers.compile(sortnet.network("best", n), lowering)
        X = tiny_rows(model, dtype, 1000, seed=n + 1)
        want = bits(run(model_kernels.generic_kernel(model, X.dtype), model, X))
        assert np.array_equal(bits(run(model_kernels.get_kernel(model, X.dtype), model, X)), want)


@needs_both
@pytest.mark.parametrize("dtype", BOTH)
def test_tile_transposes_move_every_row_of_every_width(dtype: type) -> None:
    """Whole blocks move by tiles of 4, 8 or 16 lanes, the last partial block element by
    element; a k-th model's single output column never tiles. Same bits either way."""
    from sortnet.nn import kernels as model_kernels

    for n, k in ((12, None), (24, None), (16, "median"), (48, None), (6, None)):
        net = sortnet.network("best", n)
        model = compilers.compile(net, "relu", k=k) if k else compilers.compile(net, "relu")
        for rows in (64, 64 * 7 + 63, 5):
            X = tiny_rows(model, dtype, rows, seed=n + rows)
            want = bits(run(model_kernels.generic_kernel(model, X.dtype), model, X))
            got = bits(run(model_kernels.get_kernel(model, X.dtype), model, X))
            assert np.array_equal(got, want), (n, k, rows)


@pytest.mark.parametrize("engine", ["numpy", "numba", "auto"])
def test_relu_of_a_zero_is_plus_zero_on_every_engine(engine: str) -> None:
    """As ``np.maximum(z, 0)``: a zero output never depends on how its sum was formed."""
    model = compilers.compile(sortnet.network("best", 4), "relu")
    X = np.array([[0.0, -0.0, 0.0, -0.0], [-0.0, -0.0, -0.0, -0.0], [1.0, -1.0, 0.0, -0.0]])
    Y = model(X, engine=engine)
    assert np.array_equal(Y, np.sort(X, axis=1)) and not np.signbit(Y[Y == 0]).any()


@needs_both
@pytest.mark.skipif(not native.fuses(), reason="this CPU's kernel has no fused multiply-add")
def test_without_the_check_fused_blocks_differ_on_subnormals(monkeypatch: pytest.MonkeyPatch):
    """The threshold is needed: fusing every block changes bits on subnormal inputs."""
    from sortnet.nn import kernels as model_kernels

    model = compilers.compile(sortnet.network("best", 32), "relu")
    rng = np.random.default_rng(3)
    X = (rng.integers(-99, 100, size=(2000, 32)) * np.finfo(np.float32).smallest_subnormal).astype(
        np.float32
    )
    want = bits(run(model_kernels.generic_kernel(model, X.dtype), model, X))
    assert np.array_equal(bits(run(native.kernel(model, X.dtype), model, X)), want)
    everywhere = float(np.finfo(np.float32).smallest_subnormal)
    monkeypatch.setattr(native, "fused_threshold", lambda model, dtype: everywhere)
    fused = native.kernel(compilers.compile(sortnet.network("best", 32), "relu"), X.dtype)
    assert not np.array_equal(bits(run(fused, model, X)), want)


def one_layer(weights: list[float], activation: str = "relu") -> CompiledModel:
    base = compilers.compile(sortnet.network("best", 2), "relu")
    W = np.array([weights, weights[::-1]], dtype=np.float64)
    layer = Layer(weight=W, bias=np.zeros(2), activations=(activation, activation))
    return CompiledModel([layer], dict(base.metadata))


@pytest.mark.parametrize(
    ("weights", "fused"),
    [
        ([0.5, -1.0], True),  # powers of two, at most 1: products exact above a threshold
        ([0.25, 0.125], True),
        ([0.3, 1.0], False),  # 0.3 * x is rounded: never fused
        ([2.0, 1.0], False),  # 2 * x could overflow where x + x... is left to the add
    ],
)
def test_which_models_may_fuse(weights: list[float], fused: bool) -> None:
    for dtype in BOTH:
        tiny = fused_threshold(one_layer(weights), dtype)
        assert (tiny > 0) is fused
        if fused:  # the smallest exponent is -3: products of |x| >= tiny stay normal
            assert tiny * min(abs(w) for w in weights) >= np.finfo(dtype).smallest_subnormal


def test_thresholds_grow_with_depth_and_are_small() -> None:
    shallow = fused_threshold(compilers.compile(sortnet.network("best", 4), "relu"), np.float32)
    deep = fused_threshold(compilers.compile(sortnet.network("best", 64), "relu"), np.float32)
    assert 0 < shallow < deep < 1e-30  # every halving layer costs one binade
    soft = compilers.compile(sortnet.network("best", 4), "softplus", steepness=10.0)
    assert fused_threshold(soft, np.float32) == 0.0

"""The numba engine of the neural executor (sortnet.nn.kernels) against the numpy engine.

Exactness: equal to the numpy engine and to np.sort bit for bit on integer-valued
batches, within the stated bound on random floats; the same input refusals; the
cache; engine selection. Compiling costs ~0.3-1 s per small model and dtype, so
the grid is smaller than the numpy engine's (tests/test_compilers.py, every family x
lowering x k): the generated code depends on the weights, not on the family, so one
small network (odd-even merge, n = 5: odd, with idle wires) carries every lowering x k,
and the tests that follow reuse its kernels (the kernel cache is keyed by weights).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import compilers
import sortnet
from sortnet import _jit
from sortnet.errors import InputError, SortnetError
from sortnet.network import Network
from sortnet.nn import codegen as model_codegen
from sortnet.nn import kernels as model_kernels

pytest.importorskip("numba")  # the numba engine is an optional extra

LOWERINGS = ("abs", "relu", "residual")
KS = (None, 1, "median", "n")
#: The network whose models carry the grid; later tests reuse their compiled kernels.
GRID_NET = sortnet.network("odd-even-merge", 5)
BOTH = (np.float32, np.float64)


def integer_rows(rng: np.random.Generator, n: int, rows: int = 257) -> np.ndarray:
    """Integer-valued rows with ties, zeros and negatives (257: a partial block of 64)."""
    X = rng.integers(-4, 5, (rows, n)).astype(np.float64)
    X[: rows // 2] = rng.integers(-(2**20), 2**20, (rows // 2, n))  # < 2**(24 - 2)
    return X


def expected(net: Network, X: np.ndarray, k: object) -> np.ndarray:
    ordered = np.sort(X, axis=1)
    if net.descending:
        ordered = ordered[:, ::-1]
    if k is None:
        return ordered
    rank = {"median": (net.n + 1) // 2, "n": net.n}.get(k, k)  # type: ignore[call-overload]
    return np.sort(X, axis=1)[:, [rank - 1]]


def check_engines_agree(
    model: sortnet.CompiledModel, X: np.ndarray, want: np.ndarray, dtypes: tuple = BOTH
) -> None:
    for dtype in dtypes:
        data = X.astype(dtype)
        fast = model(data, engine="numba")
        slow = model(data, engine="numpy")
        assert fast.dtype == dtype and fast.shape == want.shape
        np.testing.assert_array_equal(fast, slow)
        np.testing.assert_array_equal(fast, want.astype(dtype))


@pytest.mark.parametrize("lowering", LOWERINGS)
@pytest.mark.parametrize("k", KS)
def test_numba_equals_numpy_and_sort_on_integers(k: int | str | None, lowering: str) -> None:
    net, n = GRID_NET, GRID_NET.n
    model = compilers.compile(net, lowering, k=n if k == "n" else k)
    X = integer_rows(np.random.default_rng(n), n)
    # Full sorts in both precisions (later tests reuse these kernels); selections in
    # float32, whose typed constants are the part of the code that differs by dtype.
    check_engines_agree(model, X, expected(net, X, k), BOTH if k is None else (np.float32,))


@pytest.mark.parametrize("lowering", LOWERINGS)
@pytest.mark.parametrize(
    "net",
    [
        Network.from_comparators(1, []),
        Network.from_comparators(2, [(0, 1)]),
        sortnet.network("bubble", 4, descending=True),
    ],
    ids=["n1", "n2", "descending4"],
)
def test_small_and_descending_networks(net: Network, lowering: str) -> None:
    model = compilers.compile(net, lowering)
    X = integer_rows(np.random.default_rng(net.n), net.n, rows=70)
    check_engines_agree(model, X, expected(net, X, None), (np.float64,))


@settings(max_examples=4, deadline=None)  # each example compiles a kernel
@given(n=st.integers(2, 5), data=st.data(), lowering=st.sampled_from(LOWERINGS))
def test_any_comparator_network_same_on_both_engines(n: int, data, lowering: str) -> None:
    """Differential: arbitrary (even non-sorting) networks give numpy's output exactly."""
    pair = st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)).filter(lambda p: p[0] != p[1])
    net = Network.from_comparators(n, data.draw(st.lists(pair, max_size=8)))
    model = compilers.compile(net, lowering)
    X = integer_rows(np.random.default_rng(n), n, rows=100)
    Y = model(X, engine="numba")
    np.testing.assert_array_equal(Y, model(X, engine="numpy"))
    np.testing.assert_array_equal(Y, sortnet.sort(X, net))  # the circuit it compiles


@pytest.mark.parametrize("lowering", LOWERINGS)
def test_bit_exact_up_to_2_to_p_minus_2(lowering: str) -> None:
    """The largest integers the contract covers, in both precisions."""
    model = compilers.compile(GRID_NET, lowering)
    rng = np.random.default_rng(5)
    for dtype in (np.float32, np.float64):
        limit = 2 ** (np.finfo(dtype).nmant - 1) - 1
        values = np.array([-limit, -limit + 1, -1, 0, 1, limit - 1, limit], dtype=dtype)
        X = rng.choice(values, size=(300, GRID_NET.n))
        np.testing.assert_array_equal(model(X, engine="numba"), np.sort(X, axis=1))


@pytest.mark.parametrize("lowering", LOWERINGS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_error_within_stated_bound(lowering: str, dtype: type) -> None:
    rng = np.random.default_rng(11)
    X = rng.standard_normal((2000, 5)) * rng.choice([1e-30, 1.0, 1e30], size=(2000, 1))
    X = X.astype(dtype)
    model = compilers.compile(GRID_NET, lowering)
    Y = model(X, engine="numba")
    error = np.abs(Y.astype(np.float64) - np.sort(X, axis=1).astype(np.float64))
    assert np.all(error <= model.error_bound(X, dtype)[:, None])
    other = np.abs(Y.astype(np.float64) - model(X, engine="numpy").astype(np.float64))
    assert np.all(other <= 2 * model.error_bound(X, dtype)[:, None])


@pytest.mark.parametrize(("k", "dtypes"), [(None, BOTH), (2, (np.float32,))])
def test_counting_models_exact_on_floats(k: int | None, dtypes: tuple) -> None:
    """Step, indicator and big-M gating units run on numba too, exactly."""
    model = compilers.compile(sortnet.counting_network(5), k=k)
    rng = np.random.default_rng(2)
    X = rng.standard_normal((300, 5)) * 1e3
    X[:100, 3] = X[:100, 1]  # ties
    X[100:150] = 0.0
    want = np.sort(X, axis=1) if k is None else np.sort(X, axis=1)[:, [k - 1]]
    for dtype in dtypes:
        data = X.astype(dtype)
        np.testing.assert_array_equal(model(data, engine="numba"), want.astype(dtype))
        np.testing.assert_array_equal(model(data, engine="numba"), model(data, engine="numpy"))


def test_chunks_threads_and_single_rows() -> None:
    model = compilers.compile(GRID_NET, "relu")
    X = integer_rows(np.random.default_rng(0), 5, rows=1000)
    Y = model(X, engine="numba")
    np.testing.assert_array_equal(model(X, engine="numba", chunk_rows=7, threads=3), Y)
    np.testing.assert_array_equal(model(X[5], engine="numba"), Y[5])
    assert model(np.zeros((0, 5)), engine="numba").shape == (0, 5)


@pytest.mark.parametrize("engine", ["numba", "numpy"])
@pytest.mark.parametrize(
    "value, message",
    [
        (np.nan, "X contains NaN at row 70, column 2"),
        (np.inf, "X contains an infinity at row 70, column 2"),
        (1e307, r"X\[70, 2\] = 1e\+307 is outside the overflow limit"),
    ],
)
def test_input_refusals_identical(engine: str, value: float, message: str) -> None:
    model = compilers.compile(sortnet.network("bitonic", 4), "abs")
    X = np.zeros((100, 4))
    X[70, 2] = value
    with pytest.raises(InputError, match=message):
        model(X, engine=engine, chunk_rows=16)


@pytest.mark.parametrize("engine", ["numba", "numpy"])
def test_width_and_bound_refusals_identical(engine: str) -> None:
    model = compilers.compile(sortnet.network("bitonic", 4), "abs", bound=10.0)
    with pytest.raises(InputError, match="X has width 3 but the model takes n=4"):
        model(np.zeros((2, 3)), engine=engine)
    with pytest.raises(InputError, match=r"X\[1, 0\] = 11 is outside the model's input bound"):
        model(np.array([[1.0, 2, 3, 4], [11, 0, 0, 0]]), engine=engine)
    counting = compilers.compile(sortnet.counting_network(3), bound=100.0)
    with pytest.raises(InputError, match=r"X\[0, 1\] = -101 is outside the model's input bound"):
        counting(np.array([[1.0, -101.0, 0.0]]), engine=engine)


def test_kernel_cache_is_keyed_by_weights() -> None:
    net = GRID_NET  # its kernels are on disk already: a miss here is a load, not a compile
    first, second = compilers.compile(net, "abs"), compilers.compile(net, "abs")
    assert model_kernels.fingerprint(first, np.float32) == model_kernels.fingerprint(
        second, np.float32
    )
    other = compilers.compile(net, "relu")
    assert model_kernels.fingerprint(other, np.float32) != model_kernels.fingerprint(
        first, np.float32
    )
    model_kernels.clear_cache()
    kernel = model_kernels.get_kernel(first, np.float32)
    assert model_kernels.cache_info() == {"hits": 0, "misses": 1, "kernels": 1}
    assert model_kernels.get_kernel(second, np.float32) is kernel  # equal weights: a hit
    assert model_kernels.get_kernel(first, np.float32) is kernel  # held for the model
    assert model_kernels.cache_info() == {"hits": 2, "misses": 1, "kernels": 1}
    assert not any("numba" in str(key) and callable(v) for key, v in first._memo.items())
    model_kernels.get_kernel(first, np.float64)  # another dtype, another kernel
    assert model_kernels.cache_info()["kernels"] == 2


def test_numba_disk_cache_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SORTNET_CACHE_DIR", str(tmp_path))
    model = compilers.compile(sortnet.network("bitonic", 4), "residual")
    assert not model_kernels.is_compiled(model, np.float64)
    model_kernels.get_kernel(model, np.float64)
    sources = list(tmp_path.glob("sortnet_model_*.py"))
    assert len(sources) == 1 and "def kernel(X, Y):" in sources[0].read_text()
    assert list((tmp_path / "__pycache__").glob(f"{sources[0].stem}.*.nbi"))
    model_kernels.clear_cache()  # as in a fresh process: the disk cache says it is ready
    assert model_kernels.is_compiled(
        compilers.compile(sortnet.network("bitonic", 4), "residual"), "f8"
    )


def test_engine_selection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SORTNET_CACHE_DIR", str(tmp_path))  # nothing compiled on disk
    model = compilers.compile(sortnet.network("bubble", 5), "abs")
    small = np.zeros((3, 5))
    assert model_kernels.choose_engine("auto") == "auto"
    assert not model_kernels.use_numba(model, small, "auto")  # not worth a compile
    assert not model_kernels.use_numba(model, small, "numpy")
    assert model_kernels.use_numba(model, small, "numba")
    monkeypatch.setattr(_jit, "AUTO_MIN_ELEMENTS", 15)
    assert model_kernels.use_numba(model, small, "auto")  # a big enough batch
    monkeypatch.setattr(_jit, "AUTO_MIN_ELEMENTS", 1 << 40)
    model(small, engine="numba")
    assert model_kernels.use_numba(model, small, "auto")  # compiled: always used
    big = compilers.compile(sortnet.network("bitonic", 8), "relu")
    monkeypatch.setattr(model_kernels, "MAX_TERMS", 10)
    assert not model_kernels.compilable(big) and not model_kernels.use_numba(big, small, "auto")
    np.testing.assert_array_equal(big(np.arange(8.0)[::-1]), np.arange(8.0))  # numpy runs
    # Too big for a straight-line kernel: the generic (sparse) kernel runs it.
    np.testing.assert_array_equal(big(np.arange(8.0)[None, ::-1], engine="numba"), [np.arange(8.0)])
    assert model_kernels.use_numba(big, np.zeros((3, 8)), "auto")  # it is compiled now
    with pytest.raises(SortnetError, match=r"more than the numba engine compiles \(10\)"):
        model_kernels.get_kernel(big, np.float64)


def test_bad_engine_name_refused() -> None:
    model = compilers.compile(sortnet.network("bitonic", 2), "abs")
    with pytest.raises(
        SortnetError, match="unknown kernel back end 'gpu'; choose auto, numba or numpy"
    ):
        model(np.zeros((1, 2)), engine="gpu")
    with pytest.raises(SortnetError, match="the numba engine runs float32 or float64, not int64"):
        model_codegen.kernel_source(model, np.int64)


def test_large_model_runs_sparse_on_the_generic_kernel() -> None:
    """bitonic n=256 (~28k terms) gets no straight-line kernel; the generic one runs it."""
    model = compilers.compile(sortnet.network("bitonic", 256), "residual")
    X = np.stack([np.random.default_rng(s).permutation(256).astype(float) for s in range(3)])
    assert not model_kernels.compilable(model)
    np.testing.assert_array_equal(model(X), np.sort(X, axis=1))
    np.testing.assert_array_equal(model(X, engine="numba"), np.sort(X, axis=1))


@pytest.mark.parametrize("lowering", LOWERINGS)
@pytest.mark.parametrize("k", [None, "median"])
def test_generic_kernel_equals_numpy_engine(lowering: str, k: object) -> None:
    """The generic kernel adds the same terms in the same order as the straight-line one."""
    for net in (GRID_NET, sortnet.network("best", 16)):
        model = compilers.compile(net, lowering, k=k)
        X = integer_rows(np.random.default_rng(net.n), net.n, rows=200)
        want = expected(net, X, k)
        for dtype in BOTH:
            data = X.astype(dtype)
            Y = np.empty(want.shape, dtype)
            model_kernels.generic_kernel(model, dtype)(data, Y)
            np.testing.assert_array_equal(Y, want.astype(dtype))
            np.testing.assert_array_equal(Y, model(data, engine="numpy"))
            if net is GRID_NET:  # its straight-line kernels are compiled by the grid above
                np.testing.assert_array_equal(Y, model(data, engine="numba"))
    counting = compilers.compile(sortnet.counting_network(4), k=2)  # step and indicator units
    X = integer_rows(np.random.default_rng(4), 4, rows=100)
    Y = np.empty((100, 1))
    model_kernels.generic_kernel(counting, np.float64)(X, Y)
    np.testing.assert_array_equal(Y, counting(X, engine="numpy"))

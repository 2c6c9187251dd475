"""Exact answers and safe failure on every executor path (issue 9).

* Each circuit output row is a permutation of its input row's bit patterns (no
  ``-0.0`` lost), on the numpy path and on every layout of the numba kernels.
* Integer extremes, infinities with ties, odd memory layouts and byte orders.
* ``model.error_bound(X)`` bounds the error in the dtype the model runs ``X`` in.
* A damaged kernel cache entry is discarded and rebuilt, with a warning.
* ``chunk_rows`` and ``threads`` are checked the same way on every path.
* Integer inputs a model could not answer exactly are refused.

numba kernels are compiled into a private cache directory, on tiny networks only.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import compilers
import sortnet
from sortnet import InputError, _jit, argsort, sort
from sortnet.circuit import kernels, native
from sortnet.nn import kernels as model_kernels

HAS_NUMBA = kernels.numba_available()
needs_numba = pytest.mark.skipif(not HAS_NUMBA, reason="numba is not installed")

# Zeros of both signs, ties and infinities: where an inexact min/max loses a bit pattern.
SIGNED = [0.0, -0.0, 0.0, -0.0, 1.0, -1.0, 2.5, -2.5, np.inf, -np.inf]


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every test compiles into (and damages) a private kernel cache, never the shared one."""
    folder = Path(tmp_path_factory.getbasetemp()) / "exactness-kernels"
    folder.mkdir(exist_ok=True)
    patch = pytest.MonkeyPatch()
    patch.setenv(_jit.ENV_CACHE_DIR, str(folder))
    patch.delenv(_jit.ENV_BACKEND, raising=False)
    yield folder
    patch.undo()


def same_bits_per_row(X: np.ndarray, Y: np.ndarray) -> bool:
    """Each row of ``Y`` is a permutation of the bit patterns of the same row of ``X``."""
    bits = np.dtype(f"u{X.dtype.itemsize}")
    a = np.sort(np.ascontiguousarray(X).view(bits), axis=1)
    b = np.sort(np.ascontiguousarray(Y).view(bits), axis=1)
    return bool(np.array_equal(a, b))


def signed_rows(dtype: str, n: int, rows: int = 97, seed: int = 0) -> np.ndarray:
    """Rows full of +-0.0 and repeated values (97 rows: not a multiple of any tile)."""
    rng = np.random.default_rng(seed)
    return rng.choice(np.array(SIGNED), size=(rows, n)).astype(dtype)


def check_sorted(X: np.ndarray, net: sortnet.Network) -> None:
    Y = sort(X, net)
    assert Y.dtype == X.dtype
    assert np.array_equal(Y, np.sort(X, axis=1))  # -0.0 == 0.0 here
    assert same_bits_per_row(X, Y)  # ... but here every sign must survive
    index = argsort(X, net)
    np.testing.assert_array_equal(index, np.argsort(X, axis=1, kind="stable"))


# -- signed zeros: the numpy path -------------------------------------------------------


def test_two_zeros_keep_both_signs_on_the_numpy_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's example: min/max turned [0.0, -0.0] into [-0.0, -0.0]."""
    monkeypatch.setenv(_jit.ENV_BACKEND, "numpy")
    Y = sort([[0.0, -0.0]], sortnet.network("best", 2))
    assert np.signbit(Y).tolist() == [[False, True]]  # equal values: not swapped


@settings(max_examples=80, deadline=None)
@given(
    X=hnp.arrays(
        st.sampled_from([np.dtype("f2"), np.dtype("f4"), np.dtype("f8"), np.dtype(">f4")]),
        st.tuples(st.integers(1, 20), st.integers(2, 9)),
        elements=st.sampled_from(SIGNED),
    ),
    family=st.sampled_from(["best", "bitonic", "odd-even-merge", "bubble"]),
)
def test_numpy_path_permutes_bit_patterns(X: np.ndarray, family: str) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(_jit.ENV_BACKEND, "numpy")
        check_sorted(X, sortnet.network(family, X.shape[1]))
        k = X.shape[1] // 2 + 1
        column = sort(X, sortnet.network(family, X.shape[1]), k=k)
        assert np.array_equal(column[:, 0], np.sort(X, axis=1)[:, k - 1])
        # The k-th value is one of the row's own bit patterns.
        bits = np.dtype(f"u{X.dtype.itemsize}")
        own = np.ascontiguousarray(X).view(bits)
        assert all(np.isin(column.view(bits)[r], own[r]).all() for r in range(len(X)))


def test_numpy_path_mixed_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks with and without both zeros take different code: one batch crosses both."""
    monkeypatch.setenv(_jit.ENV_BACKEND, "numpy")
    X = np.random.default_rng(3).standard_normal((2000, 6))
    X[1500:] = signed_rows("f8", 6, rows=500)
    net = sortnet.network("best", 6)
    Y = sort(X, net, chunk_rows=256)
    assert np.array_equal(Y, np.sort(X, axis=1)) and same_bits_per_row(X, Y)


# -- signed zeros and friends: the numba kernels ----------------------------------------


@needs_numba
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("n", "layout"), [(4, "tiles"), (8, "tiles"), (5, "rows"), (5, "columns")])
def test_every_kernel_layout_permutes_bit_patterns(n: int, layout: str, dtype: str) -> None:
    net = sortnet.network("best", n)
    X = signed_rows(dtype, n, rows=200 + 3, seed=n)  # 203: whole blocks and a remainder
    Y = np.empty_like(X)
    kernels.get_kernel(net, X.dtype, layout=layout)(X, Y)
    assert np.array_equal(Y, np.sort(X, axis=1)) and same_bits_per_row(X, Y)


@needs_numba
def test_kernel_path_through_sort_and_argsort(monkeypatch: pytest.MonkeyPatch) -> None:
    for n in (4, 5):
        X, net = signed_rows("float64", n, seed=10 + n), sortnet.network("best", n)
        monkeypatch.setenv(_jit.ENV_BACKEND, "numba")
        check_sorted(X, net)
        kernel_bits = sort(X, net).view(np.uint64)
        monkeypatch.setenv(_jit.ENV_BACKEND, "numpy")
        # Same swap rule, same network: the two paths agree bit for bit, zeros included.
        np.testing.assert_array_equal(sort(X, net).view(np.uint64), kernel_bits)
        monkeypatch.setenv(_jit.ENV_BACKEND, "numba")
        column = sort(X, net, k=2).view(np.uint64)  # the pruned network's rows kernel
        assert all(np.isin(column[r], X.view(np.uint64)[r]).all() for r in range(len(X)))
        assert np.array_equal(column.view(X.dtype)[:, 0], np.sort(X, axis=1)[:, 1])


@needs_numba
def test_columns_layout_is_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    """Odd n above 10 picks the columns layout by itself (one compile of a small network)."""
    net = sortnet.Network.from_comparators(47, [(0, 46), (1, 2), (45, 46), (0, 1)])
    assert kernels.layout_for(net, 4) == "columns"
    X = signed_rows("float32", 47, rows=70, seed=4)
    Y = np.empty_like(X)
    kernels.get_kernel(net, X.dtype)(X, Y)
    assert same_bits_per_row(X, Y)
    monkeypatch.setenv(_jit.ENV_BACKEND, "numpy")  # the numpy path is the reference here
    np.testing.assert_array_equal(Y, sortnet.sort(X, net))


# -- integer extremes, infinities, layouts and byte orders on every path ------------------


def extreme_rows(dtype: str, n: int = 5) -> np.ndarray:
    info = np.iinfo(dtype)
    values = [info.min, info.min + 1, info.max - 1, info.max, 0, 1, info.max // 2]
    return np.random.default_rng(1).choice(np.array(values, dtype=dtype), size=(64, n))


PATHS = ["numpy", pytest.param("numba", marks=needs_numba)]


@pytest.mark.parametrize("backend", PATHS)
@pytest.mark.parametrize("dtype", ["int8", "uint8", "int64", "uint64"])
def test_integer_extremes_are_exact(backend: str, dtype: str, monkeypatch) -> None:
    """int64 near 2**63 and uint64 near 2**64: compared as integers, never as floats."""
    monkeypatch.setenv(_jit.ENV_BACKEND, backend)
    X = extreme_rows(dtype)
    check_sorted(X, sortnet.network("best", 5))
    assert sort(X, sortnet.network("best", 5), k=1)[:, 0].tolist() == X.min(axis=1).tolist()


@pytest.mark.parametrize("backend", PATHS)
def test_odd_layouts_and_byte_orders(backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fortran order, strided views, read-only, big-endian and float16 input.

    The tiles kernel only accepts C-contiguous arrays: a Fortran-ordered batch
    failed with a numba TypingError when the kernel was forced.
    """
    monkeypatch.setenv(_jit.ENV_BACKEND, backend)
    net = sortnet.network("best", 4)
    base = signed_rows("float32", 8, rows=40, seed=7)
    readonly = np.ascontiguousarray(base[:, :4])
    readonly.flags.writeable = False
    for X in (
        np.asfortranarray(base[:, :4]),
        base[:, ::2],
        base[::2, :4],
        readonly,
        base[:, :4].astype(">f4"),
        base[:, :4].astype("f2"),
    ):
        check_sorted(X, net)


@needs_numba
def test_auto_mode_does_not_compile_for_a_small_read_only_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A cached numba kernel covers writable arrays only: read-only ones would compile anew."""
    net = sortnet.network("best", 5)
    X = signed_rows("float32", 5, rows=10)
    X.flags.writeable = False
    if native.available():  # the precompiled kernel takes read-only input as it is
        assert kernels.native_runs(X, net)
        check_sorted(X, net)
    monkeypatch.setattr(native, "library", lambda: None)  # numba's side of the rule
    X = signed_rows("float32", 5, rows=10)
    kernels.get_kernel(net, X.dtype)
    assert kernels.use_kernel(X, net)
    X.flags.writeable = False
    assert not kernels.use_kernel(X, net)
    check_sorted(X, net)
    model = compilers.compile(net, "relu")
    model_kernels.get_kernel(model, X.dtype)
    assert not model_kernels.use_numba(model, X, "auto")
    assert model_kernels.use_numba(model, X.copy(), "auto")


# -- error_bound in the run dtype ---------------------------------------------------------


@pytest.mark.parametrize("lowering", ["abs", "relu", "residual"])
def test_error_bound_uses_the_run_dtype(lowering: str) -> None:
    """The default dtype is the model's: float32 X was bounded as if run in float64."""
    model = compilers.compile(sortnet.network("best", 8), lowering)
    rng = np.random.default_rng(8)
    X64 = rng.standard_normal((400, 8)) * rng.choice([1e-20, 1.0, 1e6, 1e30], size=(400, 1))
    bounds = {}
    for dtype in (np.float32, np.float64):
        X = X64.astype(dtype)
        Y = model(X, engine="numpy")
        assert Y.dtype == dtype
        bound = model.error_bound(X)
        error = np.abs(Y.astype(np.float64) - np.sort(X, axis=1).astype(np.float64))
        assert np.all(error <= bound[:, None])
        assert np.any(error > 0)  # the outputs are inexact: the bound is really used
        bounds[dtype] = bound
    assert np.all(bounds[np.float32] > bounds[np.float64])
    # An explicit dtype still wins, and 1-D input gives one bound.
    np.testing.assert_array_equal(model.error_bound(X64, np.float32), bounds[np.float32])
    assert model.error_bound(X64[0].astype(np.float32)) == bounds[np.float32][0]


@needs_numba
def test_error_bound_holds_on_the_numba_engine_in_float32() -> None:
    model = compilers.compile(sortnet.network("best", 4), "relu")
    X = (np.random.default_rng(9).standard_normal((300, 4)) * 1e8).astype(np.float32)
    error = np.abs(model(X, engine="numba") - np.sort(X, axis=1)).astype(np.float64)
    assert np.all(error <= model.error_bound(X)[:, None]) and np.any(error > 0)


# -- damaged kernel cache entries -----------------------------------------------------------


def damage(path: Path) -> None:
    """Cut a cache file short (what a full disk or a killed writer leaves behind)."""
    data = path.read_bytes()
    path.write_bytes(data[: max(1, len(data) // 3)])


def call_without_warning(call) -> np.ndarray:  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return call()  # type: ignore[no-any-return]


@needs_numba
@pytest.mark.parametrize("suffix", [".nbi", ".nbc", ".py"])
def test_damaged_circuit_kernel_is_rebuilt(
    suffix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(_jit.ENV_CACHE_DIR, str(tmp_path))
    monkeypatch.setenv(_jit.ENV_BACKEND, "numba")
    kernels.clear_cache()
    net = sortnet.network("best", 3)
    X = np.array([[3.0, -0.0, 0.0], [2.0, 1.0, 2.0]])
    expected = sort(X, net)
    files = sorted(tmp_path.rglob(f"sortnet_*{suffix}"))  # the generic kernel's files
    assert files, f"no {suffix} file in the kernel cache"
    for path in files:
        damage(path)
    kernels.clear_cache()  # forget the in-memory kernel: the next call reads the disk
    message = "does not hold the source" if suffix == ".py" else "could not be loaded"
    entry = rf"sortnet kernel cache entry .*sortnet_generic_.*{message}"
    with pytest.warns(RuntimeWarning, match=entry):
        Y = sort(X, net)
    assert np.array_equal(Y, expected) and same_bits_per_row(X, Y)
    kernels.clear_cache()
    assert np.array_equal(call_without_warning(lambda: sort(X, net)), expected)
    kernels.clear_cache()


@needs_numba
@pytest.mark.parametrize("suffix", [".nbi", ".nbc", ".py"])
def test_damaged_model_kernel_is_rebuilt(
    suffix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(_jit.ENV_CACHE_DIR, str(tmp_path))
    model_kernels.clear_cache()
    model = compilers.compile(sortnet.network("best", 3), "relu")
    X = np.array([[3.0, -1.0, 2.0]])
    expected = model(X, engine="numba")
    files = sorted(tmp_path.rglob(f"sortnet_model_*{suffix}"))
    assert files, f"no {suffix} file in the kernel cache"
    for path in files:
        damage(path)
    model_kernels.clear_cache()
    message = "does not hold the source" if suffix == ".py" else "could not be loaded"
    entry = rf"sortnet kernel cache entry .*sortnet_model_.*{message}"
    with pytest.warns(RuntimeWarning, match=entry):
        np.testing.assert_array_equal(model(X, engine="numba"), expected)
    model_kernels.clear_cache()
    np.testing.assert_array_equal(call_without_warning(lambda: model(X, engine="numba")), expected)
    model_kernels.clear_cache()


@needs_numba
def test_a_real_compile_error_is_not_taken_for_a_damaged_cache(tmp_path: Path) -> None:
    """Without cache files, a failing kernel raises its own error, with no warning."""

    def failing(*args: object) -> None:
        raise TypeError("no implementation for this signature")

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(TypeError, match="no implementation for this signature"):
            _jit.compile_cached("sortnet_kernel_missing", lambda fresh: failing)


# -- chunk_rows and threads: one rule everywhere -----------------------------------------

BAD_COUNTS = [
    (0, "got 0"),
    (-1, "got -1"),
    (1.5, r"got 1\.5 \(float\)"),
    (True, r"got True \(bool\)"),
    ("10", r"got '10' \(str\)"),
]


@pytest.mark.parametrize("backend", PATHS)
@pytest.mark.parametrize(("value", "shown"), BAD_COUNTS)
def test_chunk_rows_checked_on_every_circuit_path(
    backend: str, value: object, shown: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kernel path used to ignore a bad chunk_rows that the numpy path refused."""
    monkeypatch.setenv(_jit.ENV_BACKEND, backend)
    net = sortnet.network("best", 4)
    for function in (sort, argsort):
        with pytest.raises(InputError, match=rf"^chunk_rows must be a positive integer, {shown}$"):
            function(np.zeros((3, 4)), net, chunk_rows=value)  # type: ignore[operator]
        # Checked before the input, so a bad input does not hide it.
        with pytest.raises(InputError, match="chunk_rows must be a positive integer"):
            function([[np.nan] * 4], net, chunk_rows=value)  # type: ignore[operator]


def test_chunk_rows_checked_on_the_dask_path() -> None:
    da = pytest.importorskip("dask.array")
    X = da.zeros((6, 4), chunks=(3, 4))
    with pytest.raises(InputError, match=r"^chunk_rows must be a positive integer, got 0$"):
        sort(X, sortnet.network("best", 4), chunk_rows=0)


ENGINES = ["numpy", pytest.param("numba", marks=needs_numba)]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", ["chunk_rows", "threads"])
@pytest.mark.parametrize(("value", "shown"), BAD_COUNTS)
def test_model_chunk_rows_and_threads_checked(
    engine: str, name: str, value: object, shown: str
) -> None:
    """model(X) used to clamp 0 and -1, truncate 1.5 and parse "10"."""
    model = compilers.compile(sortnet.network("best", 3), "relu")
    with pytest.raises(InputError, match=rf"^{name} must be a positive integer, {shown}$"):
        model(np.zeros((4, 3)), engine=engine, **{name: value})
    with pytest.raises(InputError, match=rf"^{name} must be a positive integer"):
        model(np.zeros((0, 3)), engine=engine, **{name: value})  # even with no rows


@pytest.mark.parametrize("name", ["chunk_rows", "threads"])
def test_model_counts_checked_on_the_dask_path(name: str) -> None:
    """threads used to be ignored, unchecked, for a dask batch."""
    da = pytest.importorskip("dask.array")
    model = compilers.compile(sortnet.network("best", 3), "relu")
    with pytest.raises(
        InputError, match=rf"^{name} must be a positive integer, got 1\.5 \(float\)$"
    ):
        model(da.zeros((6, 3), chunks=(3, 3)), **{name: 1.5})


def test_good_counts_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(_jit.ENV_BACKEND, "numpy")
    net = sortnet.network("best", 3)
    X = np.random.default_rng(0).standard_normal((50, 3))
    np.testing.assert_array_equal(sort(X, net, chunk_rows=np.int64(7)), np.sort(X, axis=1))
    model = compilers.compile(net, "abs")
    Y = model(X, engine="numpy", chunk_rows=np.int32(4), threads=np.int64(2))
    np.testing.assert_allclose(Y, np.sort(X, axis=1))
    assert model(X, engine="numpy", threads=64).shape == X.shape  # more threads than chunks


# -- integer inputs a model cannot answer exactly -------------------------------------------


@pytest.mark.parametrize(
    ("X", "dtype", "message"),
    [
        (np.array([[2**64 - 1, 1, 2]], np.uint64), None, r"X\[0, 0\] = 18446744073709551615"),
        (np.array([[1, 2**53 + 1, 2]], np.int64), None, r"X\[0, 1\] = 9007199254740993"),
        (np.array([[1, 2, -(2**51)]], np.int64), None, r"below 2\*\*51"),
        (np.array([[1, 2, 2**22]], np.int32), np.float32, r"in float32: .* below 2\*\*22"),
    ],
)
def test_model_refuses_integers_it_would_round(X: np.ndarray, dtype: object, message: str) -> None:
    model = compilers.compile(sortnet.network("best", 3), "relu")
    with pytest.raises(InputError, match=message):
        model(X, dtype=dtype)
    with pytest.raises(InputError, match="is an integer too large for an exact answer"):
        model(X, dtype=dtype)


def test_model_is_exact_on_integers_it_accepts() -> None:
    model = compilers.compile(sortnet.network("best", 3), "relu")
    X = np.array([[2**51 - 1, -(2**51) + 1, 0], [5, 5, -5]], np.int64)
    np.testing.assert_array_equal(model(X), np.sort(X, axis=1).astype(np.float64))
    counting = compilers.compile(sortnet.counting_network(3))
    big = np.array([[2**53, 1, -(2**53)]], np.int64)  # counting models only convert x
    np.testing.assert_array_equal(counting(big), np.sort(big, axis=1).astype(np.float64))
    with pytest.raises(InputError, match=r"counting model is exact on integers of magnitude at"):
        counting(big + 1)

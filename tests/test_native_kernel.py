"""The precompiled C circuit kernels (sortnet.circuit.native): any schedule, bit-exact.

They are what ``sortnet.sort`` runs by default when the extension was built, so they
face the same grid as the numba generic kernel: families x n in 1..64 (the copies
specialised for n = 2..16, 24 and 32 and the general one), every dtype, sort and
stable argsort, pruned (k-th) and descending networks, partial blocks, several
threads, signed zeros, integer extremes, NaN found while loading, and the fallback
when the library is absent.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import kernel_batch
from hypothesis import given, settings
from hypothesis import strategies as st

import sortnet
from sortnet import _jit
from sortnet.circuit import kernels, native, run
from sortnet.circuit.rows import MIN_ROWS_PER_THREAD

# A private kernel cache: what this module compiles stays out of the user's, and what
# the user's holds cannot make a "compiles in the background" test find it ready.
pytestmark = pytest.mark.usefixtures("module_kernel_cache")

needs_native = pytest.mark.skipif(not native.available(), reason="the C extension is not built")

SIZES = [*range(1, 18), 23, 24, 25, 31, 32, 33, 40, 48, 57, 64]
DTYPES = [dtype.name for dtype in native.SUFFIXES]


def batch(dtype: str, n: int, rows: int = 300, seed: int = 0) -> np.ndarray:
    return kernel_batch(dtype, n, rows, seed)


def c_kernel(X: np.ndarray, net: sortnet.Network, kind: str = "sort", threads: int = 1):
    out = np.empty((X.shape[0], len(net.outputs)), np.intp if kind == "argsort" else X.dtype)
    native.run(X, out, net, kind, threads=threads)
    return out


def reference(X: np.ndarray, net: sortnet.Network, kind: str = "sort") -> np.ndarray:
    """The numpy executor with the explicit swap: the exact semantics, bit for bit."""
    if kind == "argsort":
        return run._argsort_block(X, net)
    return run._swap_block(X, net)


def same_bits(A: np.ndarray, B: np.ndarray) -> bool:
    bits = np.dtype(f"u{A.itemsize}")
    return A.shape == B.shape and bool(np.array_equal(A.view(bits), B.view(bits)))


@needs_native
@pytest.mark.parametrize("family", sortnet.list_families())
def test_every_family_every_size_sort_and_argsort(family: str) -> None:
    for n in SIZES:
        try:
            net = sortnet.network(family, n)
        except sortnet.SortnetError:  # e.g. a family defined for powers of two only
            continue
        for rows in (1, 64, 300):  # one row, one whole block, a partial last block
            X = batch("float32", n, rows=rows, seed=n)
            assert same_bits(c_kernel(X, net), reference(X, net)), (family, n, rows)
            assert np.array_equal(c_kernel(X, net), np.sort(X, axis=1))
            got = c_kernel(X, net, "argsort")
            assert np.array_equal(got, np.argsort(X, axis=1, kind="stable")), (family, n)


@needs_native
@pytest.mark.parametrize("dtype", DTYPES)
def test_every_dtype_bit_for_bit(dtype: str) -> None:
    for n in (2, 3, 7, 8, 16, 19, 24, 32, 64):
        net = sortnet.network("best", n)
        X = batch(dtype, n, seed=n)
        assert same_bits(c_kernel(X, net), reference(X, net)), (dtype, n)
        assert np.array_equal(c_kernel(X, net, "argsort"), reference(X, net, "argsort"))


@needs_native
@pytest.mark.parametrize("n", [5, 9, 16, 32, 33])
def test_pruned_and_descending_networks(n: int) -> None:
    net = sortnet.network("odd-even-merge", n)
    X = batch("float64", n, seed=3)
    for k in (1, (n + 1) // 2, n):
        pruned = sortnet.select(net, k)
        assert same_bits(c_kernel(X, pruned), reference(X, pruned))
        assert np.array_equal(c_kernel(X, pruned, "argsort"), reference(X, pruned, "argsort"))
    descending = sortnet.Network.from_comparators(
        n, [(j, i) for i, j in net.comparators], name="descending"
    )
    assert np.array_equal(c_kernel(X, descending), np.sort(X, axis=1)[:, ::-1])


@needs_native
def test_subset_of_outputs_at_a_specialised_width() -> None:
    """n = 8 with one output: the specialised copy must not serve a narrower output."""
    net = sortnet.select(sortnet.network("best", 8), 3)
    X = batch("int32", 8, rows=500)
    assert np.array_equal(c_kernel(X, net)[:, 0], np.sort(X, axis=1)[:, 2])


@needs_native
def test_threads_split_rows_exactly() -> None:
    net = sortnet.network("best", 13)
    X = batch("float32", 13, rows=3 * MIN_ROWS_PER_THREAD + 77, seed=5)
    one = c_kernel(X, net, threads=1)
    assert same_bits(c_kernel(X, net, threads=3), one)
    assert same_bits(one, reference(X, net))
    assert np.array_equal(c_kernel(X, net, "argsort", threads=2), c_kernel(X, net, "argsort"))


@needs_native
def test_signed_zeros_keep_every_bit_pattern() -> None:
    rng = np.random.default_rng(7)
    X = rng.choice(np.array([0.0, -0.0, 1.0, -1.0]), size=(1000, 16)).astype(np.float32)
    Y = c_kernel(X, sortnet.network("best", 16))
    bits = np.sort(X.view(np.uint32), axis=1), np.sort(Y.view(np.uint32), axis=1)
    assert np.array_equal(*bits)


@needs_native
@pytest.mark.parametrize("threads", [1, 2])
def test_nan_is_found_while_loading(threads: int) -> None:
    net = sortnet.network("best", 16)
    X = batch("float64", 16, rows=2 * MIN_ROWS_PER_THREAD + 100, seed=2)
    X = np.where(np.isinf(X), 0.0, X)
    X[MIN_ROWS_PER_THREAD + 5, 7] = np.nan  # in the second thread's range
    X[-1, 0] = np.nan
    with pytest.raises(sortnet.InputError, match=f"NaN at row {MIN_ROWS_PER_THREAD + 5}$"):
        c_kernel(X, net, threads=threads)
    with pytest.raises(sortnet.InputError, match=f"NaN at row {MIN_ROWS_PER_THREAD + 5}$"):
        sortnet.sort(X, net)  # the public path leaves the NaN check to the kernel
    with pytest.raises(sortnet.InputError, match=f"NaN at row {MIN_ROWS_PER_THREAD + 5}$"):
        sortnet.argsort(X, net)


@needs_native
def test_empty_and_single_wire_batches() -> None:
    net = sortnet.network("best", 4)
    assert c_kernel(np.empty((0, 4), np.float32), net).shape == (0, 4)
    one = sortnet.network("best", 1)
    X = np.array([[3.0], [-0.0]])
    assert same_bits(c_kernel(X, one), X)


@needs_native
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_unaligned_input(dtype: str) -> None:
    """A view at an odd byte offset (legal numpy) is sorted, not read misaligned."""
    X = batch(dtype, 16, rows=500)
    raw = np.zeros(X.nbytes + 1, np.uint8)
    view = raw[1:].view(X.dtype).reshape(X.shape)
    view[...] = X
    assert not view.flags.aligned
    assert same_bits(
        sortnet.sort(view, sortnet.network("best", 16)), c_kernel(X, sortnet.network("best", 16))
    )
    assert np.array_equal(
        sortnet.argsort(view, sortnet.network("best", 16)), np.argsort(X, axis=1, kind="stable")
    )


@needs_native
def test_contract_is_checked() -> None:
    net = sortnet.network("best", 4)
    X = np.zeros((8, 4), np.float32)
    with pytest.raises(sortnet.SortnetError, match="C-contiguous"):
        native.run(np.asfortranarray(X), np.empty_like(X), net)
    with pytest.raises(sortnet.SortnetError, match="no precompiled kernel for dtype float16"):
        native.run(X.astype(np.float16), np.empty((8, 4), np.float16), net)
    with pytest.raises(sortnet.SortnetError, match="output must be"):
        native.run(X, np.empty((8, 4), np.float64), net)


@needs_native
def test_sortnet_sort_runs_it_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SORTNET_KERNEL", raising=False)
    net = sortnet.network("best", 16)
    X = batch("float32", 16, rows=10)
    assert kernels.native_runs(X, net)
    assert kernels.describe(net, np.float32) == "precompiled C kernel (schedule as data)"
    calls = []
    real = native.run
    monkeypatch.setattr(native, "run", lambda *args, **kw: calls.append(1) or real(*args, **kw))
    assert np.array_equal(sortnet.sort(X, net), np.sort(X, axis=1))
    assert np.array_equal(sortnet.argsort(X, net), np.argsort(X, axis=1, kind="stable"))
    assert len(calls) == 2
    monkeypatch.setenv("SORTNET_KERNEL", "numpy")  # an explicit back end wins
    assert not kernels.native_runs(X, net)


@needs_native
def test_a_compiled_straight_line_kernel_replaces_c_for_sort_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Above n = 10 a straight-line sort kernel compiled on request runs; argsort stays C.

    For 8-byte values the C kernel stays from n = 33 on (it was faster at n = 64).
    """
    monkeypatch.delenv("SORTNET_KERNEL", raising=False)
    monkeypatch.setattr(kernels, "specialized_ready", lambda net, dtype, kind: True)
    X = batch("float32", 11, rows=10)
    big, small = sortnet.network("best", 11), sortnet.network("best", 10)
    assert not kernels.native_runs(X, big, kind="sort")
    assert kernels.native_runs(X, big, kind="argsort")
    assert kernels.native_runs(X[:, :10].copy(), small, kind="sort")
    wide = sortnet.network("best", 33)
    assert kernels.native_runs(np.zeros((2, 33)), wide, kind="sort")
    assert not kernels.native_runs(np.zeros((2, 33), np.float32), wide, kind="sort")
    assert not kernels.native_runs(np.zeros((2, 32)), sortnet.network("best", 32), kind="sort")


def test_without_c_a_straight_line_argsort_kernel_runs_only_for_small_n(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Above STRAIGHT_ARGSORT_MAX_N the generic kernel runs even when one was compiled."""
    if not _jit.numba_available():
        pytest.skip("numba not installed")
    monkeypatch.setattr(native, "library", lambda: None)
    monkeypatch.setattr(kernels, "specialized_ready", lambda *args: True)
    ran: list[str] = []
    monkeypatch.setattr(kernels, "get_kernel", lambda *a, **k: lambda X, Y: ran.append("straight"))
    real = kernels.interpreter.run
    monkeypatch.setattr(
        kernels.interpreter, "run", lambda *a, **k: ran.append("generic") or real(*a, **k)
    )
    for n, expected in ((4, "straight"), (5, "generic")):
        net, X = sortnet.network("best", n), batch("float32", n, rows=20)
        out = np.empty(X.shape, np.intp)
        kernels.argsort_into(X, net, out, backend="numba")
        assert ran[-1] == expected
        kernels.sort_into(X, net, np.empty_like(X), backend="numba")
        assert ran[-1] == "straight"  # sort keeps its straight-line kernel


def test_without_the_library_the_other_paths_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(native, "library", lambda: None)
    net = sortnet.network("bitonic", 8)
    X = batch("float32", 8, rows=100)
    assert not kernels.native_runs(X, net)
    assert np.array_equal(sortnet.sort(X, net), np.sort(X, axis=1))
    X[50, 2] = np.nan
    with pytest.raises(sortnet.InputError, match="NaN at row 50$"):
        sortnet.sort(X, net)


@pytest.mark.skipif(
    not (shutil.which("cc") or shutil.which("gcc")) or not sys.platform.startswith("linux"),
    reason="no C compiler here: the optional extension is not expected",
)
def test_the_extension_is_built_where_a_compiler_is() -> None:
    """An install with a C compiler must build the kernels (a silent failure would hide)."""
    assert native.available()


@st.composite
def schedules(draw: st.DrawFn) -> tuple[sortnet.Network, np.ndarray, int]:
    """Any comparator schedule (not only sorting networks) on 1..40 wires, with rows."""
    n = draw(st.integers(1, 40))
    pairs = []
    if n > 1:
        count = draw(st.integers(0, 60))
        for _ in range(count):
            i = draw(st.integers(0, n - 2))
            j = draw(st.integers(i + 1, n - 1))
            pairs.append((i, j))
    net = sortnet.Network.from_comparators(n, pairs)
    k = draw(st.integers(0, n))  # 0: every output, else the k-th smallest alone
    dtype = draw(st.sampled_from(DTYPES))
    rows = draw(st.integers(0, 200))
    return net, batch(dtype, n, rows=rows, seed=draw(st.integers(0, 2**16))), k


@needs_native
@settings(max_examples=120, deadline=None)
@given(schedules())
def test_any_schedule_matches_the_numpy_executor(case: tuple) -> None:
    net, X, k = case
    if k:
        net = sortnet.select(net, k) if net.size else net
    for kind in ("sort", "argsort"):
        assert same_bits(c_kernel(X, net, kind), reference(X, net, kind)), (net.comparators, k)


def test_a_large_batch_compiles_the_straight_line_sort_kernel_in_the_background(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Above n = 10 the C kernel sorts a large batch while the faster kernel compiles."""
    if not (native.available() and _jit.numba_available()):
        pytest.skip("needs the extension and numba")
    monkeypatch.delenv("SORTNET_KERNEL", raising=False)
    # An empty cache: a kernel an earlier run left on disk would already be ready.
    monkeypatch.setenv(_jit.ENV_CACHE_DIR, str(tmp_path))
    _jit.clear_cache()
    monkeypatch.setattr(kernels, "AUTO_MIN_ELEMENTS", 1100)  # "large" for this test
    net = sortnet.network("odd-even-merge", 11)
    X = batch("int16", 11, rows=100)  # a dtype no other test compiles a straight kernel for
    assert not kernels.straight_line_pays(X[:99], net)  # too small
    assert not kernels.straight_line_pays(X[:, :10].copy(), sortnet.network("best", 10))
    assert not kernels.straight_line_pays(X, net, kind="argsort")  # C is faster there
    assert kernels.straight_line_pays(X, net)
    assert not kernels.specialized_ready(net, X.dtype)
    np.testing.assert_array_equal(sortnet.sort(X, net), np.sort(X, axis=1))  # the C kernel
    assert _jit.wait_for_background(timeout=120)
    assert kernels.specialized_ready(net, X.dtype) and not kernels.native_runs(X, net)
    np.testing.assert_array_equal(sortnet.sort(X, net), np.sort(X, axis=1))  # straight-line


def _sort_in_child(X: np.ndarray) -> bool:
    net = sortnet.network("bitonic", X.shape[1])
    return bool(np.array_equal(sortnet.sort(X, net), np.sort(X, axis=1)))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_child_sorts_after_its_parent_did() -> None:
    """Was: the child hung, handing rows to the parent's thread pool it does not have."""
    import multiprocessing

    X = batch("float32", 8, rows=300_000)  # two threads: the shared pool is used
    assert _sort_in_child(X)
    with multiprocessing.get_context("fork").Pool(2) as pool:
        assert pool.map_async(_sort_in_child, [X, X]).get(timeout=60) == [True, True]


def test_a_background_compile_that_fails_is_not_retried() -> None:
    attempts: list[int] = []

    def failing() -> None:
        attempts.append(1)
        raise RuntimeError("no compiler here")

    for _ in range(3):
        _jit.in_background("test: a failing compile", failing)
        assert _jit.wait_for_background(timeout=10)
    assert attempts == [1]

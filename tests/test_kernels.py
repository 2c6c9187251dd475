"""Circuit kernels (sortnet.circuit.kernels): bit-exact against np.sort, cached, numpy fallback."""

from __future__ import annotations

import numpy as np
import pytest

import sortnet
from sortnet import _jit
from sortnet.circuit import interpreter, kernels, native
from sortnet.errors import SortnetError

pytest.importorskip("numba")

FAMILIES = sortnet.list_families()
DTYPES = ["float32", "float64", "int8", "int32", "int64", "uint8", "uint64"]
# Stress values: ties, both zeros, signs, extremes, infinities.
SPECIAL = [0.0, -0.0, 1.0, -1.0, 2.5, -2.5, 1e30, -1e30, 1e-30, np.inf, -np.inf]


@pytest.fixture(autouse=True, scope="module")
def _kernel_cache(tmp_path_factory: pytest.TempPathFactory) -> object:
    """Compile into a private cache directory, so the test compiles what it checks."""
    patch = pytest.MonkeyPatch()
    patch.setenv(_jit.ENV_CACHE_DIR, str(tmp_path_factory.mktemp("kernels")))
    patch.delenv(_jit.ENV_BACKEND, raising=False)
    kernels.clear_cache()
    yield
    kernels.clear_cache()
    patch.undo()


def batch(dtype: str, n: int, rows: int = 300, seed: int = 0) -> np.ndarray:
    """Random rows with many ties, negatives, zeros (and +-0.0, +-inf for floats)."""
    rng = np.random.default_rng(seed)
    kind = np.dtype(dtype)
    if kind.kind == "f":
        values = np.concatenate([SPECIAL, rng.standard_normal(20), np.arange(-3.0, 4.0)])
        return rng.choice(values, size=(rows, n)).astype(kind)
    info = np.iinfo(kind)
    values = np.array([info.min, info.max, 0, 1, 2, 3, info.max // 2, max(info.min, -5)], kind)
    return rng.choice(values, size=(rows, n))


def same_bits_per_row(X: np.ndarray, Y: np.ndarray) -> bool:
    """Each output row is a permutation of the input row's bit patterns (no -0.0 lost)."""
    bits = np.dtype(f"u{X.itemsize}")
    return bool(np.array_equal(np.sort(X.view(bits), axis=1), np.sort(Y.view(bits), axis=1)))


def run(
    net: sortnet.Network, X: np.ndarray, parallel: bool = False, **options: object
) -> np.ndarray:
    """``net``'s kernel on ``X``; on this thread by default (``parallel`` splits the rows)."""
    Y = np.empty((X.shape[0], len(net.outputs)), X.dtype)
    kernels.get_kernel(net, X.dtype, parallel=parallel, **options)(X, Y)  # type: ignore[arg-type]
    return Y


# Small networks: the generated code is one line per comparator whatever the family, so
# what varies is the layout (rows for odd n, tiles for n a multiple of 4 up to 32,
# columns on request or from 48) and the dtype; each kernel compiles once per test run.
@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_matches_np_sort_bit_for_bit(family: str) -> None:
    net = sortnet.network(family, 5)
    X = batch("float32", 5, seed=5)
    Y = run(net, X)
    assert np.array_equal(Y, np.sort(X, axis=1))
    assert same_bits_per_row(X, Y)


@pytest.mark.parametrize("n", [1, 2, 11])
def test_best_networks_edge_sizes(n: int) -> None:
    net = sortnet.network("best", n)
    X = batch("float64", n, seed=100 + n)
    assert np.array_equal(run(net, X), np.sort(X, axis=1))


@pytest.mark.parametrize("dtype", DTYPES)
def test_dtypes_are_exact(dtype: str) -> None:
    net = sortnet.network("best", 5)
    X = batch(dtype, 5, rows=1000)
    Y = run(net, X)
    assert Y.dtype == X.dtype
    assert np.array_equal(Y, np.sort(X, axis=1))
    assert same_bits_per_row(X, Y)


@pytest.mark.parametrize("dtype", ["float32", "uint64"])
@pytest.mark.parametrize("layout", ["tiles", "columns"])
def test_blocked_layouts_handle_partial_blocks(dtype: str, layout: str) -> None:
    net = sortnet.network("bitonic", 8)
    for rows in (0, 1, 15, 16, 17, 65, 1000):  # around the 16-row blocks; one compile each
        X = batch(dtype, 8, rows=rows, seed=rows)
        # The parallel row loop differs from the serial one only in prange: one dtype is enough.
        for parallel in (True, False) if dtype == "float32" else (False,):
            Y = run(net, X, layout=layout, parallel=parallel)
            assert np.array_equal(Y, np.sort(X, axis=1))
            assert same_bits_per_row(X, Y)


@pytest.mark.parametrize(
    ("n", "dtype", "lanes"),
    [(4, "float32", 4), (12, "int32", 4), (8, "float64", 8), (24, "float32", 8), (64, "int32", 16)],
)
def test_tile_widths(n: int, dtype: str, lanes: int) -> None:
    net = sortnet.Network.from_comparators(
        n, sortnet.network("odd-even-merge", n).comparators, descending=True
    )
    assert kernels.tile_lanes(n, np.dtype(dtype).itemsize) == lanes
    X = batch(dtype, n, rows=3 * lanes + 1)
    assert np.array_equal(run(net, X, layout="tiles"), np.sort(X, axis=1)[:, ::-1])


def test_layout_rule() -> None:
    """Tiles for 4-byte values at 16 <= n <= 64 (n a multiple of 4), else rows or columns."""
    chosen = {
        (n, itemsize): kernels.layout_for(sortnet.network("odd-even-merge", n), itemsize)
        for n in (4, 10, 12, 16, 20, 32, 64, 65)
        for itemsize in (2, 4, 8)
    }
    assert [n for (n, size), layout in chosen.items() if layout == "tiles"] == [16, 20, 32, 64]
    assert {layout for (n, size), layout in chosen.items() if n <= 10} == {"rows"}
    assert chosen[12, 4] == chosen[12, 2] == chosen[65, 4] == chosen[64, 8] == "columns"
    assert chosen[32, 8] == "rows"
    assert kernels.layout_for(sortnet.select(sortnet.network("bitonic", 16), 3), 4) == "columns"


def test_sorterhunter_network(sorterhunter_dir: object) -> None:
    from pathlib import Path

    net = sortnet.load_network(
        sorted(Path(str(sorterhunter_dir)).glob("sorters/Sort_12_*.json"))[0]
    )
    X = batch("float32", 12, rows=2000)
    assert np.array_equal(run(net, X), np.sort(X, axis=1))


def test_selection_and_descending_networks_write_their_outputs() -> None:
    net = sortnet.network("odd-even-merge", 8)
    X = batch("float32", 8)
    median = sortnet.select(net, "median")
    assert np.array_equal(run(median, X)[:, 0], np.sort(X, axis=1)[:, 3])
    down = sortnet.Network.from_comparators(8, net.comparators, descending=True)
    assert np.array_equal(run(down, X), np.sort(X, axis=1)[:, ::-1])


@pytest.mark.parametrize("dtype", ["float32", "int32"])
def test_argsort_kernel_is_stable(dtype: str) -> None:
    net = sortnet.network("best", 6)
    X = batch(dtype, 6, rows=500)
    index = np.empty(X.shape, np.intp)
    for parallel in (True, False) if dtype == "float32" else (False,):
        assert kernels.argsort_into(X, net, index, backend="numba", parallel=parallel)
        assert np.array_equal(index, np.argsort(X, axis=1, kind="stable"))


def test_sort_uses_kernel_and_agrees_with_numpy_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    net = sortnet.network("pairwise", 7)  # compiled by no other test: counts are exact
    X = batch("float32", 7, rows=777)
    monkeypatch.setenv(_jit.ENV_BACKEND, "numpy")
    before = kernels.cache_info()
    slow, slow_index = sortnet.sort(X, net), sortnet.argsort(X, net)
    assert kernels.cache_info() == before  # the numpy executor ran: nothing compiled
    monkeypatch.setenv(_jit.ENV_BACKEND, "numba")
    fast, fast_index = sortnet.sort(X, net), sortnet.argsort(X, net)
    # The generic kernels ran: no straight-line kernel was compiled for this network.
    assert kernels.cache_info()["kernels"] == before["kernels"]
    assert interpreter.ready("sort", X.dtype) and interpreter.ready("argsort", X.dtype)
    assert np.array_equal(slow, np.sort(X, axis=1)) and np.array_equal(fast, slow)
    assert np.array_equal(fast_index, slow_index)
    assert np.array_equal(sortnet.sort(X, net, k=4)[:, 0], np.sort(X, axis=1)[:, 3])


def test_auto_mode_compiles_only_large_or_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    net = sortnet.network("bubble", 7)
    small = np.zeros((10, 7), np.int16)  # a dtype no other test here compiles
    if native.available():  # precompiled: any batch runs it, there is nothing to compile
        assert kernels.use_kernel(small, net) and kernels.native_runs(small, net)
    monkeypatch.setattr(native, "library", lambda: None)  # the rule for numba's kernels
    assert not kernels.use_kernel(small, net)
    big = np.broadcast_to(np.int16(0), (kernels.AUTO_MIN_ELEMENTS // 7 + 1, 7))
    assert not kernels.use_kernel(big, net)  # not contiguous: a full copy; numpy goes by blocks
    assert kernels.use_kernel(np.ascontiguousarray(big), net)
    assert not kernels.specialized_ready(net, np.int16)
    assert np.array_equal(sortnet.sort(small, net), small)  # small: the numpy path
    assert kernels.sort_into(small, net, np.empty_like(small), backend="numba")
    assert kernels.use_kernel(small, net)  # the generic kernel is compiled in this process
    assert not kernels.specialized_ready(net, np.int16)  # ... and nothing else
    kernels.clear_cache()
    interpreter.CACHE.clear()
    assert kernels.use_kernel(small, net)  # numba's machine code is on disk
    run(net, small)
    assert kernels.specialized_ready(net, np.int16)
    assert not kernels.specialized_ready(net, np.int32)
    assert not kernels.use_kernel(small.astype(np.float16), net)
    assert not kernels.use_kernel(small, net, backend="numpy")


def test_cache_hits_and_keys() -> None:
    kernels.clear_cache()
    net = sortnet.network("insertion", 5)  # on disk already: misses here are loads
    twin = sortnet.Network.from_comparators(5, net.comparators, name="another name")
    first = kernels.get_kernel(net, np.float32)
    assert kernels.get_kernel(twin, "float32") is first
    assert kernels.cache_info() == {"hits": 1, "misses": 1, "kernels": 1}
    kernels.get_kernel(net, np.float64)
    serial = kernels.get_kernel(net, np.float32, parallel=False)  # the same machine code
    assert kernels.cache_info() == {"hits": 2, "misses": 2, "kernels": 2}
    assert kernels.get_kernel(net, np.float32, parallel=True) is first is not serial
    assert len(list(kernels.cache_dir().glob("sortnet_kernel_*.py"))) >= 1


def test_bad_inputs_have_clear_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    net = sortnet.network("bubble", 4)
    with pytest.raises(SortnetError, match="no compiled kernel for dtype float16"):
        kernels.get_kernel(net, np.float16)
    with pytest.raises(SortnetError, match="unknown kernel kind 'merge'"):
        kernels.kernel_source(net, "merge")
    with pytest.raises(SortnetError, match="unknown kernel layout 'diagonal'"):
        kernels.kernel_source(net, layout="diagonal")
    with pytest.raises(SortnetError, match=r"the tiles layout needs all outputs.*n=5"):
        kernels.kernel_source(sortnet.network("bubble", 5), layout="tiles")
    with pytest.raises(SortnetError, match=r"the tiles layout needs all outputs.*1 outputs"):
        kernels.kernel_source(sortnet.select(net, 2), layout="tiles")
    with pytest.raises(SortnetError, match="comparator networks only"):
        kernels.kernel_source(sortnet.counting_network(3))  # type: ignore[arg-type]
    monkeypatch.setenv(_jit.ENV_BACKEND, "gpu")
    with pytest.raises(
        SortnetError, match=r"unknown kernel back end 'gpu' \(from \$SORTNET_KERNEL\)"
    ):
        sortnet.sort(np.zeros((2, 4)), net)
    monkeypatch.setattr(_jit, "numba_available", lambda: False)
    monkeypatch.setenv(_jit.ENV_BACKEND, "numba")
    with pytest.raises(SortnetError, match="needs numba, which is not installed"):
        kernels.choose_backend()
    monkeypatch.setenv(_jit.ENV_BACKEND, "auto")
    assert kernels.choose_backend() == "numpy"
    assert np.array_equal(sortnet.sort(np.array([[3, 1, 2, 0]]), net), [[0, 1, 2, 3]])


def test_tiles_kernels_ask_llvm_for_full_width_vectors() -> None:
    # LLVM's tuning for many AVX-512 Intel cores vectorises with 256-bit registers
    # unless the function says otherwise; the tiles kernels say so (their 16-lane
    # transposes and compare-exchanges fill a 512-bit register), a plain row loop not.
    from numba import njit

    from sortnet.circuit.intrinsics import network_intrinsic, transpose_tile

    on_row = network_intrinsic([(0, 1)], [0, 1])

    @njit
    def rows(X: np.ndarray, Y: np.ndarray) -> None:
        for r in range(X.shape[0]):
            on_row(X, r, Y, r)

    @njit
    def tile(X: np.ndarray, Y: np.ndarray) -> None:
        transpose_tile(X, 0, 0, Y, 0, 0, 16)

    X = np.arange(256, dtype=np.float32).reshape(16, 16)[:, ::-1].copy()
    Y, T = np.empty_like(X), np.empty_like(X)
    rows(X[:, :2].copy(), Y[:, :2])
    tile(X, T)
    np.testing.assert_array_equal(Y[:, :2], np.sort(X[:, :2], axis=1))
    np.testing.assert_array_equal(T, X.T)
    assert _jit.WIDE_VECTORS in "".join(tile.inspect_llvm().values())
    assert _jit.WIDE_VECTORS not in "".join(rows.inspect_llvm().values())


@pytest.mark.skipif(not native.available(), reason="needs the precompiled C kernels")
def test_nan_is_refused_when_the_straight_line_kernel_arrives_mid_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # sortnet.sort skips its own NaN scan when the C kernel will run (it finds NaN while
    # loading). If a background compile finishes between that decision and the run,
    # the call must still run the C kernel, not the straight-line one (no NaN check).
    from sortnet.errors import InputError

    net = sortnet.network("best", 16)  # above NATIVE_FIRST_MAX_N
    kernels.get_kernel(net, np.float32)  # compiled: sortnet.sort would now pick it
    X = np.random.default_rng(4).standard_normal((500, 16)).astype(np.float32)
    X[321, 5] = np.nan
    real = kernels.native_runs
    answers = iter([True])  # the first question: "not ready yet"; later ones: ready

    def native_runs(*args: object, **kw: object) -> bool:
        return next(answers, None) or real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(kernels, "native_runs", native_runs)
    with pytest.raises(InputError, match="NaN at row 321"):
        sortnet.sort(X, net)

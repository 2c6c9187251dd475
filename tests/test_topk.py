"""Top-k with indices: the networks (0-1 proofs), sortnet.topk on both engines, the CLI.

The reference for indices is a stable argsort of the descending order: for floats
``np.argsort(-X, kind="stable")`` (``-0.0`` and ``0.0`` are equal, so they tie and
keep column order); for integers ``np.argsort(~X, kind="stable")``, since ``~x``
reverses the order of every integer dtype without the overflow of ``-x`` at the
minimum of a signed type (or anywhere for an unsigned one). Values must be the input's
bit patterns at those indices (compared as bytes, so ``-0.0`` is not ``0.0``).
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import numpy as np
import pytest

import sortnet
from sortnet import _jit
from sortnet.circuit import topk_kernels
from sortnet.circuit.topk import topk
from sortnet.cli import main
from sortnet.errors import InputError, SortnetError
from sortnet.generators.topk import MAX_TOPK_N, topk_network
from sortnet.network import Network, comparator_graph
from sortnet.verify import verify

SPECIAL = [0.0, -0.0, 1.0, -1.0, 2.5, -2.5, 1e30, -1e30, 1e-30, np.inf, -np.inf]
DTYPES = ["float32", "float64", "float16", "int8", "int16", "int32", "int64", "uint8", "uint64"]
SIZES = [1, 2, 3, 5, 8, 17, 128]


def ks(n: int) -> list[int]:
    return sorted({1, min(2, n), max(1, n // 2), n})


def batch(dtype: str, n: int, rows: int = 60, seed: int = 0) -> np.ndarray:
    """Rows with many ties: a few distinct values, with +-0.0, +-inf or integer extremes."""
    rng = np.random.default_rng(seed)
    kind = np.dtype(dtype)
    if kind.kind == "f":
        finite = np.finfo(kind).max
        fits = [v for v in SPECIAL if abs(v) <= float(finite) or np.isinf(v)]
        values = np.array(fits + [3.0, -7.0, 0.5], kind)
    else:
        info = np.iinfo(kind)
        small = [0, 1, 2, 3] + ([-1, -2] if info.min < 0 else [])
        values = np.array([info.min, info.min + 1, info.max, info.max - 1, *small], dtype=kind)
    return rng.choice(values, size=(rows, n))


def reference(X: np.ndarray, k: int, largest: bool) -> tuple[np.ndarray, np.ndarray]:
    key = (-X if X.dtype.kind == "f" else ~X) if largest else X
    indices = np.argsort(key, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(X, indices, axis=1), indices


def assert_same(got: tuple[np.ndarray, np.ndarray], want: tuple[np.ndarray, np.ndarray]) -> None:
    (values, indices), (want_values, want_indices) = got, want
    assert indices.dtype == np.intp and np.array_equal(indices, want_indices)
    assert values.dtype == want_values.dtype and values.shape == want_values.shape
    assert np.ascontiguousarray(values).tobytes() == np.ascontiguousarray(want_values).tobytes()


@pytest.fixture
def numpy_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(_jit.ENV_BACKEND, "numpy")


@pytest.fixture(scope="module")
def numba_engine(tmp_path_factory: pytest.TempPathFactory) -> object:
    """The compiled kernels, compiled into a private cache (so the test compiles what it checks)."""
    pytest.importorskip("numba")
    patch = pytest.MonkeyPatch()
    patch.setenv(_jit.ENV_CACHE_DIR, str(tmp_path_factory.mktemp("topk-kernels")))
    patch.setenv(_jit.ENV_BACKEND, "numba")
    topk_kernels.CACHE.clear()
    yield
    topk_kernels.CACHE.clear()
    patch.undo()


# -- the networks ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("n", "k"),
    [(n, k) for n in (1, 2, 3, 5, 8, 17) for k in ks(n)] + [(33, 16), (40, 7), (64, 8), (64, 64)],
)
def test_network_is_a_top_k_network_by_the_0_1_principle(n: int, k: int) -> None:
    """Exhaustive 0-1 proof that output position n-1-r holds rank n-r (r < k), all inputs.

    That is: the outputs hold the k largest as a set, in order (position n-1 the
    largest). By the 0-1 principle (every output is a monotone function of the input)
    it holds for every input, so for (key, index) pairs with distinct indices too.
    """
    net = topk_network(n, k)
    assert sorted(net.outputs) == list(range(n - k, n))
    result = verify(net, exhaustive=True)
    assert result.ok and result.exhaustive and result.checked == 2**n


def test_a_broken_network_fails_the_check() -> None:
    """The proof above can fail: drop one comparator and a counterexample is found."""
    net = topk_network(16, 4)
    for drop in (0, net.size // 2, net.size - 1):
        comparators = net.comparators[:drop] + net.comparators[drop + 1 :]
        broken = Network(comparator_graph(16, comparators, net.outputs))
        result = verify(broken, exhaustive=True)
        assert not result.ok and result.counterexample is not None


def test_network_sizes() -> None:
    # 8-of-128: blocks of 16 sorted and cut to their 8 largest, then 7 merges of 20.
    net = topk_network(128, 8)
    assert (net.size, net.graph.graph["block"], net.graph.graph["k"]) == (572, 16, 8)
    assert topk_network(128, 1).size == 127  # a tournament
    assert topk_network(16, 16).size == 60  # k = n: the best-known sorter


def test_network_arguments() -> None:
    with pytest.raises(SortnetError, match=r"k must be an integer in 1\.\.n=4, got 5"):
        topk_network(4, 5)
    with pytest.raises(SortnetError, match=f"up to n={MAX_TOPK_N}, got n={MAX_TOPK_N + 1}"):
        topk_network(MAX_TOPK_N + 1, 1)
    with pytest.raises(SortnetError, match="n must be an integer >= 1"):
        topk_network(0, 1)


# -- sortnet.topk, numpy engine -----------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_numpy_engine_equals_stable_argsort(dtype: str, numpy_engine: None) -> None:
    for n in SIZES:
        X = batch(dtype, n, seed=n)
        for k in ks(n):
            for largest in (True, False):
                assert_same(topk(X, k, largest), reference(X, k, largest))


def test_odd_layouts(numpy_engine: None) -> None:
    X = batch("float32", 9, seed=3)
    big_endian = X.astype(">f4")
    assert_same(topk(big_endian, 4), reference(big_endian, 4, True))
    strided = batch("int64", 20)[:, ::2]
    assert_same(topk(strided, 3, False), reference(strided, 3, False))
    assert_same(topk(X.tolist(), 2), reference(X.astype(np.float64), 2, True))
    assert_same(topk(X, 3, chunk_rows=7), reference(X, 3, True))


def test_empty_batch_and_one_column(numpy_engine: None) -> None:
    values, indices = topk(np.empty((0, 5), np.float32), 2)
    assert values.shape == indices.shape == (0, 2) and values.dtype == np.float32
    values, indices = topk([[-0.0]], 1)
    assert indices.tolist() == [[0]] and np.signbit(values[0, 0])


def test_n_1024_numpy(numpy_engine: None) -> None:
    X = batch("float32", 1024, rows=6)
    for k in (1, 8):
        assert_same(topk(X, k), reference(X, k, True))


# -- the compiled kernels -------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64", "uint64", "int8"])
def test_kernel_equals_stable_argsort(dtype: str, numba_engine: None) -> None:
    for n in SIZES:
        X = batch(dtype, n, rows=37, seed=n)  # 37: two full tiles of 16 and a partial one
        for k in ks(n):
            for largest in (True, False):
                assert_same(topk(X, k, largest), reference(X, k, largest))


@pytest.mark.parametrize("dtype", ["float32", "int64"])
def test_parallel_kernel(dtype: str, numba_engine: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # Small batches run on one thread; make this one run on all cores.
    monkeypatch.setattr(topk_kernels, "PARALLEL_MIN_ELEMENTS", 1)
    X = batch(dtype, 40, rows=1000, seed=2)
    for k in (1, 8, 40):
        assert_same(topk(X, k), reference(X, k, True))
    assert (8 * X.dtype.itemsize, True) in topk_kernels.CACHE


def _top_4_in_child(X: np.ndarray) -> bool:
    values, indices = topk(X, 4)
    return bool(np.array_equal(indices, reference(X, 4, True)[1]))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_child_runs_the_parallel_kernel(
    numba_engine: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Was: numba's GNU OpenMP pool in the parent made every forked child abort."""
    import multiprocessing

    monkeypatch.setattr(topk_kernels, "PARALLEL_MIN_ELEMENTS", 1)
    X = batch("float32", 40, rows=1000, seed=3)
    assert _top_4_in_child(X)
    with multiprocessing.get_context("fork").Pool(2) as pool:
        assert pool.map_async(_top_4_in_child, [X, X]).get(timeout=60) == [True, True]


def test_kernel_n_1024(numba_engine: None) -> None:
    X = batch("float32", 1024, rows=20)
    X[3] = 1.0  # one row of ties only
    for k in (1, 8, 1024):
        assert_same(topk(X, k), reference(X, k, True))
    X64 = X.astype(np.float64)
    assert_same(topk(X64, 8, False), reference(X64, 8, False))


def test_kernel_and_numpy_agree_on_random_floats(
    numba_engine: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    X = np.random.default_rng(5).standard_normal((50, 128)).astype(np.float32)
    X[:, ::7] = 0.0
    X[:, 1::7] = -0.0
    fast = topk(X, 8)
    monkeypatch.setenv(_jit.ENV_BACKEND, "numpy")
    assert_same(fast, topk(X, 8))
    assert_same(fast, reference(X, 8, True))


# -- errors ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("X", "k", "message"),
    [
        ([[1.0, 2.0], [3.0, np.nan]], 1, "X contains NaN at row 1"),
        ([[1.0, 2.0]], 0, r"k must be an integer in 1\.\.n=2, got 0"),
        ([[1.0, 2.0]], 3, r"k must be an integer in 1\.\.n=2, got 3"),
        ([[1.0, 2.0]], True, r"k must be an integer in 1\.\.n=2, got True"),
        ([[1.0, 2.0]], 1.0, r"k must be an integer in 1\.\.n=2, got 1\.0"),
        ([[1.0, 2.0]], "1", r"k must be an integer in 1\.\.n=2, got '1'"),
        (np.empty((3, 0)), 1, r"k must be an integer in 1\.\.n=0, got 1"),
        ([1.0, 2.0], 1, r"X must have shape \(batch, n\), got shape \(2,\); for one row use"),
        (np.zeros((2, 2, 2)), 1, r"X must have shape \(batch, n\), got shape \(2, 2, 2\)$"),
        ([["a", "b"]], 1, "X must have an integer or floating dtype of at most 64 bits, got <U1"),
        ([[True, False]], 1, r"got bool \(cast booleans with X.astype\(int\)\)"),
        ([[1j, 2j]], 1, "got complex128"),
        ([[1.0], [2.0, 3.0]], 1, "X must be a rectangular"),
        (np.zeros((1, MAX_TOPK_N + 1)), 1, f"rows of up to n={MAX_TOPK_N} values"),
    ],
)
def test_errors(X: object, k: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        topk(X, k)  # type: ignore[arg-type]


def test_more_errors() -> None:
    with pytest.raises(InputError, match="largest must be True or False, got 'yes'"):
        topk([[1, 2]], 1, largest="yes")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="chunk_rows"):
        topk([[1, 2]], 1, chunk_rows=0)
    with pytest.raises(InputError, match="X contains NaN at row 0"):
        topk(np.array([[np.nan]], np.float16), 1)


def test_public_names() -> None:
    assert sortnet.topk is topk and sortnet.topk_network is topk_network


# -- the command line ---------------------------------------------------------------------------
def run_cli(
    capsys: pytest.CaptureFixture[str], *argv: str, stdin: str = ""
) -> tuple[int, str, str]:
    sys.stdin = io.StringIO(stdin)
    try:
        code = main(["topk", *argv])
    finally:
        sys.stdin = sys.__stdin__
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_text(capsys: pytest.CaptureFixture[str], numpy_engine: None) -> None:
    rows = "3 1 3 7\n# a comment\n-0.0 0.0 5 -1\n"
    assert run_cli(capsys, "--k", "2", stdin=rows) == (0, "7.0 3.0\n5.0 -0.0\n", "")
    assert run_cli(capsys, "--k", "2", "--indices", "-", stdin=rows) == (0, "3 0\n2 0\n", "")
    code, out, _ = run_cli(capsys, "--k", "3", "--smallest", stdin="9007199254740993 1 2 0\n")
    assert (code, out) == (0, "0 1 2\n")
    assert run_cli(capsys, "--k", "1", stdin="") == (0, "", "")


def test_cli_npy(tmp_path: Path, capsys: pytest.CaptureFixture[str], numpy_engine: None) -> None:
    X = batch("float32", 20, rows=101)
    np.save(tmp_path / "X.npy", X)
    values, indices = tmp_path / "V.npy", tmp_path / "I.npy"
    args = ["--k", "5", "--input", str(tmp_path / "X.npy"), "--block-rows", "17"]
    assert run_cli(capsys, *args, "--output", str(values), "--indices", str(indices)) == (0, "", "")
    want_values, want_indices = reference(X, 5, True)
    assert np.load(indices).dtype == np.int64 and np.array_equal(np.load(indices), want_indices)
    assert np.load(values).tobytes() == want_values.tobytes()
    # Only the indices, to stdout as text.
    code, out, _ = run_cli(capsys, *args, "--indices", "-")
    assert code == 0 and out.splitlines()[0] == " ".join(map(str, want_indices[0]))


def test_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], numpy_engine: None) -> None:
    X = np.ones((50, 4), np.float32)
    X[33, 2] = np.nan
    np.save(tmp_path / "X.npy", X)
    out = tmp_path / "V.npy"
    out.write_bytes(b"old")
    cases = [
        (["--k", "5"], "3 1 2 3\n", "--k 5 is more than the n=4 values in each row of stdin"),
        (["--k", "0"], "", "argument --k: must be an integer >= 1, got '0'"),
        (["--k", "2"], "1 nan\n", "line 1, column 2: NaN cannot be sorted"),
        (["--k", "1"], "1 2\n3\n", "line 2: expected 2 numbers (n=2), got 1"),
        (["--k", "1", "--output", "-", "--indices", "-"], "", "cannot both be '-'"),
        (["--k", "1", "--output", "a.npy", "--indices", "a.npy"], "", "name the same file"),
        (["--k", "1", "--output", "a.txt"], "", "--output must end in .npy"),
        (["--k", "1", "--input", str(tmp_path / "none.npy")], "", "no such file"),
        (
            ["--k", "2", "--input", str(tmp_path / "X.npy"), "--output", str(out)]
            + ["--block-rows", "10"],
            "",
            "X.npy: X contains NaN at row 33",
        ),
    ]
    for argv, stdin, message in cases:
        code, stdout, err = run_cli(capsys, *argv, stdin=stdin)
        assert code == 2 and stdout == "", (argv, code, stdout, err)
        assert err.startswith("sortnet: error: ") and err.count("\n") == 1, err
        assert message in err, err
    assert out.read_bytes() == b"old"  # the failed run left the old output untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["V.npy", "X.npy"]  # no temp files
    np.save(tmp_path / "flat.npy", np.ones(5))
    code, _, err = run_cli(capsys, "--k", "1", "--input", str(tmp_path / "flat.npy"))
    assert code == 2 and "expected an array of shape (batch, n), got (5,)" in err


def test_top_k_values_compile_with_the_existing_lowerings() -> None:
    """The values are continuous: the network compiles; positions n-k..n-1 hold them."""
    compilers = pytest.importorskip("compilers")
    net = topk_network(8, 3)
    X = batch("int32", 8, rows=40).astype(np.float64) % 1000  # small integers: bit-exact
    values, _ = topk(X, 3)
    for lowering in ("abs", "relu", "residual"):
        Y = compilers.compile(net, lowering=lowering)(X)
        assert Y.shape == (40, 8) and not Y[:, :5].any()
        assert np.array_equal(Y[:, 5:][:, ::-1], values)

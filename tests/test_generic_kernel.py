"""The generic circuit kernel (sortnet.circuit.generic/interpreter): any schedule, bit-exact.

It is compiled once per dtype and kind and then runs every network, so this grid
costs a few compilations, not one per network: families x sampled n in 1..64,
every kernel dtype, sort and stable argsort, pruned (k-th smallest) and descending
networks, partial blocks and tile transposes, Fortran, strided and read-only input.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import kernel_batch

import sortnet
from sortnet.circuit import interpreter, kernels
from sortnet.circuit.rows import MIN_ROWS_PER_THREAD

pytest.importorskip("numba")

SIZES = [1, 2, 3, 4, 5, 8, 12, 13, 16, 24, 31, 32, 40, 48, 57, 64]


pytestmark = pytest.mark.usefixtures("module_kernel_cache")


def batch(dtype: str, n: int, rows: int = 200, seed: int = 0) -> np.ndarray:
    return kernel_batch(dtype, n, rows, seed)


def bits_kept(X: np.ndarray, Y: np.ndarray) -> bool:
    bits = np.dtype(f"u{X.itemsize}")
    return bool(np.array_equal(np.sort(X.view(bits), axis=1), np.sort(Y.view(bits), axis=1)))


def generic(X: np.ndarray, net: sortnet.Network, kind: str = "sort", threads: int = 1):
    out = np.empty((X.shape[0], len(net.outputs)), np.intp if kind == "argsort" else X.dtype)
    interpreter.run(X, out, net, kind, threads=threads)
    return out


@pytest.mark.parametrize("family", sortnet.list_families())
def test_every_family_at_sampled_sizes(family: str) -> None:
    for n in SIZES:
        try:
            net = sortnet.network(family, n)
        except sortnet.SortnetError:  # e.g. a family defined for powers of two only
            continue
        for rows in (200, 256):  # a partial last block; whole blocks (tile transposes)
            X = batch("float32", n, rows=rows, seed=n)
            Y = generic(X, net)
            assert np.array_equal(Y, np.sort(X, axis=1)), (family, n, rows)
            assert bits_kept(X, Y)


@pytest.mark.parametrize("dtype", sorted(str(d) for d in kernels.KERNEL_DTYPES))
def test_every_dtype(dtype: str) -> None:
    for n in (7, 12, 16):  # no tiles, 4-row tiles, 16- or 8-row tiles
        net = sortnet.network("best", n)
        X = batch(dtype, n, rows=320, seed=n)
        Y = generic(X, net)
        assert Y.dtype == X.dtype and np.array_equal(Y, np.sort(X, axis=1))
        assert bits_kept(X, Y)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int16"])
def test_argsort_is_stable(dtype: str) -> None:
    for n in (3, 16, 33):
        net = sortnet.network("best", n)
        X = batch(dtype, n, rows=150, seed=n)
        assert np.array_equal(generic(X, net, "argsort"), np.argsort(X, axis=1, kind="stable"))


def test_pruned_and_descending_networks() -> None:
    net = sortnet.network("odd-even-merge", 16)
    X = batch("float32", 16, rows=256)
    ordered = np.sort(X, axis=1)
    for k in (1, 5, 16):
        pruned = sortnet.select(net, k)
        assert np.array_equal(generic(X, pruned)[:, 0], ordered[:, k - 1])
        index = generic(X, pruned, "argsort")[:, 0]
        assert np.array_equal(X[np.arange(len(X)), index], ordered[:, k - 1])
    down = sortnet.Network.from_comparators(16, net.comparators, descending=True)
    assert np.array_equal(generic(X, down), ordered[:, ::-1])


def test_threads_split_whole_blocks() -> None:
    net = sortnet.network("best", 16)
    X = batch("float32", 16, rows=2 * MIN_ROWS_PER_THREAD + 77)
    assert np.array_equal(generic(X, net, threads=2), np.sort(X, axis=1))
    assert np.array_equal(
        generic(X, net, "argsort", threads=2), np.argsort(X, axis=1, kind="stable")
    )


def test_sort_runs_it_on_odd_layouts() -> None:
    net = sortnet.network("best", 8)
    X = batch("float64", 8, rows=300)
    want = np.sort(X, axis=1)
    fortran = np.asfortranarray(X)
    strided = np.repeat(X, 2, axis=0)[::2]
    frozen = X.copy()
    frozen.flags.writeable = False
    for data in (fortran, strided, frozen):
        out = np.empty(X.shape, X.dtype)
        assert kernels.sort_into(data, net, out, backend="numba")
        assert np.array_equal(out, want)
    index = np.empty(X.shape, np.intp, order="F")  # a Fortran-ordered output too
    assert kernels.argsort_into(fortran, net, index, backend="numba")
    assert np.array_equal(index, np.argsort(X, axis=1, kind="stable"))
    assert not kernels.specialized_ready(net, X.dtype)  # all of it on the generic kernel


def test_lanes() -> None:
    assert [interpreter.lanes(n, 4) for n in (16, 48, 8, 24, 12, 4, 6)] == [16, 16, 8, 8, 4, 4, 0]
    assert [interpreter.lanes(n, 8) for n in (16, 12, 9)] == [8, 4, 0]
    assert interpreter.lanes(32, 1) == 16

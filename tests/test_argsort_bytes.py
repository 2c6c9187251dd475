"""The byte-index argsort kernels (``_argsort_bytes.c``) against the general C kernel.

Where the CPU has AVX-512BW, ``sortnet.argsort`` on float32, int32 and uint32 rows of at
most 256 wires runs a kernel that keeps one byte of index per row and wire and takes
min/max of the keys. It must return exactly what the general argsort kernel returns
(and ``np.argsort(kind="stable")`` for sorting networks): ties in index order, signed
zeros as ties, any comparator schedule (descending, pruned, a subset or permutation of
outputs), partial blocks, every output group width (n not a multiple of 16), up to
n = 256 (the largest index a byte holds).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import kernel_batch

import sortnet
from sortnet.circuit import native
from sortnet.circuit.rows import MIN_ROWS_PER_THREAD

needs_bytes = pytest.mark.skipif(
    not native.bytes_kernels(), reason="needs the C extension and a CPU with AVX-512BW"
)

DTYPES = ["float32", "int32", "uint32"]


def argsort_with(X: np.ndarray, net: sortnet.Network, *, general: bool, threads: int = 1):
    out = np.empty((X.shape[0], len(net.outputs)), np.intp)
    native.run(X, out, net, "argsort", threads=threads, general=general)
    return out


def both(X: np.ndarray, net: sortnet.Network, threads: int = 1) -> tuple[np.ndarray, np.ndarray]:
    return (
        argsort_with(X, net, general=False, threads=threads),
        argsort_with(X, net, general=True, threads=threads),
    )


@needs_bytes
def test_the_byte_kernel_is_the_one_that_runs() -> None:
    assert native.kernel_name("argsort", np.float32, 16) == "sortnet_argsort_bytes_f4"
    assert native.kernel_name("argsort", np.uint32, 256) == "sortnet_argsort_bytes_u4"
    assert native.kernel_name("argsort", np.float32, 257) == "sortnet_argsort_f4"
    assert native.kernel_name("argsort", np.float64, 16) == "sortnet_argsort_f8"
    assert native.kernel_name("sort", np.float32, 16) == "sortnet_sort_f4"
    assert native.kernel_name("argsort", np.float32, 16, general=True) == "sortnet_argsort_f4"


@needs_bytes
@pytest.mark.parametrize("dtype", DTYPES)
def test_sorting_networks_give_the_stable_argsort(dtype: str) -> None:
    for n in [*range(1, 34), 40, 47, 48, 63, 64]:
        net = sortnet.network("best", n)
        for rows in (1, 63, 64, 65, 300):
            X = kernel_batch(dtype, n, rows, seed=n + rows)
            fast, general = both(X, net)
            assert np.array_equal(fast, general), (dtype, n, rows)
            assert np.array_equal(fast, np.argsort(X, axis=1, kind="stable")), (dtype, n, rows)


@needs_bytes
@pytest.mark.parametrize("n", [100, 128, 200, 255, 256])
def test_up_to_256_wires(n: int) -> None:
    net = sortnet.network("odd-even-merge", n)
    X = kernel_batch("float32", n, 130, seed=n)
    fast, general = both(X, net)
    assert np.array_equal(fast, general)
    assert np.array_equal(fast, np.argsort(X, axis=1, kind="stable"))


@needs_bytes
@pytest.mark.parametrize("n", [3, 16, 17, 33])
def test_any_schedule_and_any_outputs(n: int) -> None:
    """Descending and pruned networks, random schedules, permuted and partial outputs."""
    rng = np.random.default_rng(n)
    net = sortnet.network("odd-even-merge", n)
    descending = sortnet.Network.from_comparators(n, [(j, i) for i, j in net.comparators])
    pairs = [tuple(int(w) for w in rng.choice(n, 2, replace=False)) for _ in range(3 * n)]
    schedules = [descending, sortnet.Network.from_comparators(n, pairs)]
    schedules += [sortnet.select(net, k) for k in (1, (n + 1) // 2, n)]
    flipped = [(j, i) for i, j in net.comparators]  # relabels wires: outputs permuted
    positions = sorted(int(p) for p in rng.choice(n, max(1, n - 2), replace=False))
    for outputs in (positions, positions[:1]):
        schedules.append(sortnet.Network.from_comparators(n, flipped, outputs=outputs))
    assert any(s.output_wires != sorted(s.output_wires) for s in schedules)
    for dtype in DTYPES:
        X = kernel_batch(dtype, n, 200, seed=n)
        for schedule in schedules:
            fast, general = both(X, schedule)
            assert np.array_equal(fast, general), (dtype, schedule.output_wires)


@needs_bytes
def test_ties_and_signed_zeros_keep_index_order() -> None:
    rng = np.random.default_rng(3)
    X = rng.choice(np.array([0.0, -0.0, 1.0, -1.0], np.float32), size=(1000, 16))
    fast = argsort_with(X, sortnet.network("best", 16), general=False)
    assert np.array_equal(fast, np.argsort(X, axis=1, kind="stable"))


@needs_bytes
@pytest.mark.parametrize("threads", [1, 2])
def test_threads_and_nan(threads: int) -> None:
    net = sortnet.network("best", 24)
    X = kernel_batch("float32", 24, 2 * MIN_ROWS_PER_THREAD + 99, seed=4)
    X = np.where(np.isinf(X), 0.0, X).astype(np.float32)
    fast, general = both(X, net, threads)
    assert np.array_equal(fast, general)
    X[MIN_ROWS_PER_THREAD + 70, 5] = np.nan
    with pytest.raises(sortnet.InputError, match=f"row {MIN_ROWS_PER_THREAD + 70}"):
        argsort_with(X, net, general=False, threads=threads)

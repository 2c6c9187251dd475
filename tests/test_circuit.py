"""The circuit executor: differential tests against np.sort, and every bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import sortnet
from sortnet import InputError, SortnetError, argsort, sort

NETWORKS = {n: sortnet.network("odd-even-merge", n) for n in range(1, 10)}
BEST = {n: sortnet.network("best", n) for n in range(1, 10)}

# Values that stress an exact min/max: ties, signs, zeros (both), huge magnitudes, inf.
FLOATS = st.sampled_from([0.0, -0.0, 1.0, -1.0, 2.5, 1e30, -1e30, 1e-30, np.inf, -np.inf])
INTS = st.sampled_from([0, 1, -1, 7, -7, 2**31 - 1, -(2**31)])


def batches(dtype: np.dtype, elements: st.SearchStrategy) -> st.SearchStrategy:
    shape = st.tuples(st.integers(0, 30), st.integers(1, 9))
    return hnp.arrays(dtype, shape, elements=elements)


@settings(max_examples=60, deadline=None)
@given(
    st.one_of(
        batches(np.dtype(np.float64), FLOATS | st.floats(-1e6, 1e6)),
        batches(np.dtype(np.float32), FLOATS | st.floats(-1e6, 1e6, width=32)),
        batches(np.dtype(np.int64), INTS | st.integers(-(2**62), 2**62)),
        batches(np.dtype(np.int32), INTS),
        batches(np.dtype(np.uint8), st.integers(0, 255)),
    ),
    st.sampled_from(["odd-even-merge", "best"]),
)
def test_sort_and_argsort_match_numpy(X: np.ndarray, family: str) -> None:
    net = (NETWORKS if family == "odd-even-merge" else BEST)[X.shape[1]]
    Y = sort(X, net)
    assert Y.dtype == X.dtype and Y.shape == X.shape
    np.testing.assert_array_equal(Y, np.sort(X, axis=1))
    A = argsort(X, net)
    np.testing.assert_array_equal(A, np.argsort(X, axis=1, kind="stable"))
    assert A.dtype == np.intp


@settings(max_examples=30, deadline=None)
@given(batches(np.dtype(np.float64), FLOATS | st.floats(-10, 10)), st.data())
def test_k_returns_the_kth_column(X: np.ndarray, data: st.DataObject) -> None:
    n = X.shape[1]
    k = data.draw(st.integers(1, n))
    net = NETWORKS[n]
    column = sort(X, net, k=k)
    assert column.shape == (X.shape[0], 1) and column.dtype == X.dtype
    np.testing.assert_array_equal(column[:, 0], np.sort(X, axis=1)[:, k - 1])
    index = argsort(X, net, k=k)
    np.testing.assert_array_equal(index[:, 0], np.argsort(X, axis=1, kind="stable")[:, k - 1])


def test_negative_zero_and_ties_keep_index_order() -> None:
    X = np.array([[0.0, -0.0, 0.0, -1.0], [3.0, 3.0, 3.0, 3.0]])
    net = BEST[4]
    np.testing.assert_array_equal(argsort(X, net), [[3, 0, 1, 2], [0, 1, 2, 3]])
    np.testing.assert_array_equal(sort(X, net)[0], [-1.0, 0.0, 0.0, 0.0])


def test_descending_network_sorts_descending() -> None:
    net = sortnet.network("bitonic", 8, descending=True)
    X = np.random.default_rng(0).integers(-3, 3, size=(100, 8))
    np.testing.assert_array_equal(sort(X, net), np.sort(X, axis=1)[:, ::-1])
    np.testing.assert_array_equal(argsort(X, net), np.argsort(X, axis=1, kind="stable")[:, ::-1])
    np.testing.assert_array_equal(sort(X, net, k=2)[:, 0], np.sort(X, axis=1)[:, 1])


def test_chunking_does_not_change_the_result_and_extremes_are_exact() -> None:
    rng = np.random.default_rng(1)
    X = rng.integers(np.iinfo(np.int64).min, np.iinfo(np.int64).max, size=(1001, 7))
    net = NETWORKS[7]
    full = sort(X, net)
    np.testing.assert_array_equal(full, np.sort(X, axis=1))
    np.testing.assert_array_equal(sort(X, net, chunk_rows=3), full)
    np.testing.assert_array_equal(argsort(X, net, chunk_rows=10), argsort(X, net))


def test_inputs_are_not_modified_and_lists_are_accepted() -> None:
    X = np.array([[3, 1, 2]])
    before = X.copy()
    sort(X, NETWORKS[3])
    np.testing.assert_array_equal(X, before)
    np.testing.assert_array_equal(sort([[3, 1, 2]], NETWORKS[3]), [[1, 2, 3]])
    assert sort(np.empty((0, 3)), NETWORKS[3]).shape == (0, 3)


def test_selection_network_returns_its_one_column() -> None:
    pruned = sortnet.select(NETWORKS[5], "median")
    X = np.random.default_rng(2).standard_normal((20, 5))
    assert sort(X, pruned).shape == (20, 1)
    np.testing.assert_array_equal(sort(X, pruned)[:, 0], np.median(X, axis=1))


def test_inf_is_ordered() -> None:
    X = np.array([[np.inf, -np.inf, 0.0, np.inf]])
    np.testing.assert_array_equal(sort(X, BEST[4]), [[-np.inf, 0.0, np.inf, np.inf]])


# -- bad inputs ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("X", "message"),
    [
        (np.array([[1.0, 2.0, 3.0], [1.0, np.nan, 0.0]]), r"X contains NaN at row 1"),
        (np.array([1, 2, 3]), r"X must have shape \(batch, n=3\), got shape \(3,\); for one row "),
        (np.zeros((2, 3, 1)), r"X must have shape \(batch, n=3\), got shape \(2, 3, 1\)$"),
        (np.zeros((2, 4)), r"X has 4 columns but the network has n=3 wires"),
        (np.zeros((2, 3), dtype=bool), r"integer or floating dtype, got bool \(cast booleans"),
        (np.zeros((2, 3), dtype=complex), r"integer or floating dtype, got complex128"),
        (np.array([[1, "a", 2]], dtype=object), r"integer or floating dtype, got object"),
        (np.array([["1", "2", "3"]]), r"integer or floating dtype, got <U1"),
        (np.zeros((1, 3), dtype="datetime64[s]"), r"integer or floating dtype, got datetime64"),
        ([[1, 2, 3], [1, 2]], r"X must be a rectangular \(batch, n\) array"),
    ],
)
def test_bad_input(X: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        sort(X, NETWORKS[3])
    with pytest.raises(InputError, match=message):
        argsort(X, NETWORKS[3])


def test_nan_far_into_a_chunked_batch_names_its_row() -> None:
    X = np.zeros((5000, 3))
    X[4321, 2] = np.nan
    with pytest.raises(InputError, match=r"X contains NaN at row 4321"):
        sort(X, NETWORKS[3], chunk_rows=100)


@pytest.mark.parametrize("chunk_rows", [0, -5, 2.5, True])
def test_bad_chunk_rows(chunk_rows: object) -> None:
    with pytest.raises(InputError, match=r"chunk_rows must be a positive integer, got"):
        sort(np.zeros((2, 3)), NETWORKS[3], chunk_rows=chunk_rows)  # type: ignore[arg-type]


def test_bad_k_and_bad_network() -> None:
    with pytest.raises(InputError, match=r"k must be in 1..n=3, got 4"):
        sort(np.zeros((2, 3)), NETWORKS[3], k=4)
    with pytest.raises(SortnetError, match=r"the circuit executor runs comparator networks only"):
        sort(np.zeros((2, 3)), sortnet.counting_network(3))
    with pytest.raises(SortnetError, match=r"the circuit executor runs comparator networks only"):
        argsort(np.zeros((2, 2)), [(0, 1)])  # type: ignore[arg-type]

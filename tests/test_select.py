"""The selection pass: pruning to output k, verified as a selection network."""

from __future__ import annotations

import numpy as np
import pytest

import sortnet
from sortnet import InputError, Network, SortnetError, select, verify


@pytest.mark.parametrize("family", sortnet.list_families())
def test_every_pruned_network_selects_for_n_up_to_12(family: str) -> None:
    for n in range(1, 13):
        net = sortnet.network(family, n)
        for k in range(1, n + 1):
            pruned = select(net, k)
            result = verify(pruned)
            assert result.ok and result.exhaustive and result.k == k, (family, n, k)
            assert list(pruned.outputs) == [k - 1]
            assert set(pruned.comparators) <= set(net.comparators)
            assert pruned.size <= net.size and pruned.graph.graph["full_size"] == net.size
            assert pruned.graph.graph["k"] == k and pruned.graph.graph["family"] == family


def test_min_and_max_keep_a_tournament_and_median_prunes() -> None:
    net = sortnet.network("odd-even-merge", 16)
    assert select(net, "min").size == 15  # n - 1 comparators: the tournament for the minimum
    assert select(net, "max").size == 15
    median = select(net, "median")
    assert list(median.outputs) == [7] and median.graph.graph["k"] == 8
    assert median.size < net.size
    assert select(net, "MEDIAN") == median
    assert select(net, np.int64(8)) == median


def test_pruned_network_agrees_with_the_full_one_on_real_data() -> None:
    net = sortnet.network("bitonic", 10)
    X = np.random.default_rng(0).integers(-5, 5, size=(200, 10))
    for k in (1, 4, 10):
        assert (sortnet.sort(X, select(net, k)) == sortnet.sort(X, net)[:, [k - 1]]).all()


def test_descending_network_selects_the_kth_smallest() -> None:
    net = sortnet.network("odd-even-merge", 6, descending=True)
    for k in range(1, 7):
        pruned = select(net, k)
        assert list(pruned.outputs) == [6 - k] and verify(pruned).ok
        X = np.random.default_rng(k).standard_normal((50, 6))
        assert (sortnet.sort(X, pruned)[:, 0] == np.sort(X, axis=1)[:, k - 1]).all()


def test_permuted_outputs_keep_the_wire_the_original_reads() -> None:
    # Descending comparators are standardised by relabelling wires, so position p of
    # this network reads a wire other than p; the pruned network must read the same.
    net = Network.from_comparators(4, [(1, 0), (2, 3), (0, 2), (3, 1)])
    assert any(net.outputs[p] != p for p in net.outputs)
    X = np.random.default_rng(1).standard_normal((100, 4))
    for k in range(1, 5):
        pruned = select(net, k)
        assert pruned.outputs[k - 1] == net.outputs[k - 1]
        assert (sortnet.sort(X, pruned) == sortnet.sort(X, net)[:, [k - 1]]).all()


def test_selection_network_can_be_pruned_again_for_its_own_k() -> None:
    pruned = select(sortnet.network("bubble", 6), 2)
    assert select(pruned, 2).comparators == pruned.comparators
    with pytest.raises(InputError, match=r"network has no output for k=3 \(its outputs hold k=2\)"):
        select(pruned, 3)


@pytest.mark.parametrize(
    ("k", "message"),
    [
        (9, r"k must be in 1..n=8, got 9"),
        (0, r"k must be in 1..n=8, got 0"),
        (-1, r"k must be in 1..n=8, got -1"),
        ("middle", r"k must be an integer in 1..n=8 or median, min, max; got 'middle'"),
        (2.0, r"k must be an integer in 1..n=8 or median, min, max; got 2.0"),
        (True, r"k must be an integer in 1..n=8 or median, min, max; got True"),
        (None, r"k must be an integer in 1..n=8 or median, min, max; got None"),
    ],
)
def test_bad_k(k: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        select(sortnet.network("bitonic", 8), k)  # type: ignore[arg-type]


def test_select_needs_a_comparator_network() -> None:
    with pytest.raises(SortnetError, match="select needs a comparator network"):
        select(sortnet.counting_network(4), 1)

"""The packaged SorterHunter library: best sorters to n = 64, medians, selection networks."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

import sortnet
from sortnet import InputError, Network, SortnetError
from sortnet.devtools import sorterhunter_data
from sortnet.generators import best, library, selection_network


def _proved(net: Network, k: int | None = None) -> bool:
    result = sortnet.verify(net, k, exhaustive=True)
    return result.ok and result.exhaustive


def _weight_class_proof(net: Network, k: int) -> bool:
    """Output k-1 holds the k-th smallest: a 0-1 proof on two weight classes.

    Comparator networks are monotone, so by the 0-1 principle it suffices that every
    0-1 input with exactly k zeros puts a 0 on wire k-1 (more zeros only lower it)
    and every one with exactly k-1 zeros puts a 1 there. ``C(n, k) + C(n, k-1)``
    patterns instead of ``2**n``: cheap for k near the ends, where ``sortnet.verify``
    gets little from its prefix reduction.
    """
    n, wire = net.n, net.outputs[k - 1]
    full = (1 << n) - 1
    for zeros, want in ((k, 0), (k - 1, 1)):
        minority = min(zeros, n - zeros)
        masks = []
        for chosen in itertools.combinations(range(n), minority):
            bits = sum(1 << w for w in chosen)
            masks.append(full ^ bits if minority == zeros else bits)  # bit w = 1: a one
        patterns = np.array(masks, dtype=np.uint64)
        for i, j in net.comparators:
            low, high = (patterns >> np.uint64(i)) & 1, (patterns >> np.uint64(j)) & 1
            swap = low & (high ^ 1)  # a 1 above a 0: exchange
            patterns ^= swap * np.uint64((1 << i) | (1 << j))
        if np.any(((patterns >> np.uint64(wire)) & 1) != want):
            return False
    return True


def _selection_proved(net: Network, k: int) -> bool:
    """The cheaper proof: two weight classes when they are small, else ``sortnet.verify``."""
    from math import comb

    if comb(net.n, k) + comb(net.n, k - 1) <= 200_000:
        return _weight_class_proof(net, k)
    return _proved(net, k)


def _file_size_depth(source: str) -> tuple[int, int]:
    """L and D from "Sort_<N>_<L>_<D> (SorterHunter)"."""
    _, _, size, depth = source.split()[0].split("_")
    return int(size), int(depth)


# -- best sorters --------------------------------------------------------------------------
@pytest.mark.parametrize("optimize", ["size", "depth"])
def test_best_sorters_up_to_40_are_proved(optimize: str) -> None:
    for n in range(1, 41):
        net = best(n, optimize=optimize)
        assert _proved(net), n
        if n > 1:
            assert (net.size, net.depth) == _file_size_depth(net.graph.graph["source"])


@pytest.mark.parametrize("optimize", ["size", "depth"])
def test_best_sorters_41_to_64_are_proved(optimize: str) -> None:
    """The large half (n = 41..64): a few seconds; kept in the default run."""
    for n in range(41, 65):
        net = best(n, optimize=optimize)
        assert _proved(net), n
        assert (net.size, net.depth) == _file_size_depth(net.graph.graph["source"])


def test_size_and_depth_variants_are_the_pareto_picks() -> None:
    for n in range(2, 65):
        small, fast = best(n), best(n, optimize="depth")
        assert small.size <= fast.size and fast.depth <= small.depth
        assert (small.name == f"best-{n}") and fast.name in (f"best-{n}", f"best-{n}-depth")
    assert (best(32).size, best(32).depth) == (185, 14)
    assert (best(64, optimize="depth").size, best(64, optimize="depth").depth) == (525, 20)


def test_best_errors() -> None:
    with pytest.raises(SortnetError, match=r"only n <= 64.*'odd-even-merge' or 'bitonic'"):
        best(65)
    with pytest.raises(SortnetError, match="option 'optimize' must be 'size' or 'depth'"):
        best(20, optimize="fast")


# -- median networks -----------------------------------------------------------------------
def _median_entries(low: int, high: int) -> list[library.LibraryNetwork]:
    return [
        entry
        for n in library.available("median")
        if low <= n <= high
        for entry in library.variants("median", n)
    ]


def _check_median(entry: library.LibraryNetwork) -> None:
    n = entry.n
    net = Network.from_comparators(n, entry.comparators)
    assert (net.size, net.depth) == _file_size_depth(entry.source)
    # Odd n: the median on wire (n-1)/2. Even n: the two middle values on wires
    # n/2-1 and n/2 (unordered); one comparator orders them, then both are proved.
    middle = [n // 2 - 1, n // 2] if n % 2 == 0 else [n // 2]
    comparators = list(entry.comparators) + ([(n // 2 - 1, n // 2)] if n % 2 == 0 else [])
    assert _proved(Network.from_comparators(n, comparators, outputs=middle)), entry.source


def test_median_networks_up_to_40_are_proved() -> None:
    for entry in _median_entries(3, 40):
        _check_median(entry)


def test_median_networks_41_to_64_are_proved() -> None:
    """The large half (n = 41..64): the slowest proofs here; kept in the default run."""
    for entry in _median_entries(41, 64):
        _check_median(entry)


# -- selection networks --------------------------------------------------------------------
def _pruned_best(n: int, k: int) -> int:
    return min(sortnet.select(best(n, optimize=o), k).size for o in ("size", "depth"))


def _check_selection_median(n: int) -> None:
    k = (n + 1) // 2
    net = selection_network(n, "median")
    median = library.lookup("median", n)
    assert median is not None
    assert net.size <= _pruned_best(n, k)
    assert net.outputs == {k - 1: k - 1}
    if n % 2:
        # The best-known median network itself (proved above).
        assert net.graph.graph["source"] == f"{median.source} (SorterHunter)", n
        assert tuple(net.comparators) == median.comparators
    else:
        assert net.size <= median.size + 1, n  # plus one comparator at most
        assert _proved(net, k), n


def test_selection_equals_the_median_networks_up_to_40() -> None:
    for n in range(3, 41):
        _check_selection_median(n)
    assert selection_network(16, "median").size == 46  # = Median_16_46_10, via Median_17
    assert selection_network(32, "median").size == 127  # < Median_32_128_14, via Median_33


def test_selection_equals_the_median_networks_41_to_64() -> None:
    """The large half (n = 41..64): proofs of the even-n lower medians; a few seconds."""
    for n in range(41, 65):
        _check_selection_median(n)


@pytest.mark.parametrize("n", [2, 5, 9, 16, 25, 32, 47, 64])
def test_selection_at_other_ranks(n: int) -> None:
    for k in sorted({1, 2, max(1, n // 4), n // 2 + 1, n - 1, n}):
        net = selection_network(n, k)
        assert net.size <= _pruned_best(n, k), (n, k)
        assert net.graph.graph["k"] == k and net.name == f"select-{n}-k{k}"
        assert _selection_proved(net, k), (n, k)
    assert selection_network(n, "min").size == n - 1 == selection_network(n, "max").size


def test_weight_class_proof_catches_a_wrong_network() -> None:
    net = selection_network(9, 3)
    broken = Network.from_comparators(9, net.comparators[:-1], outputs=[2])
    assert _weight_class_proof(net, 3) and not _weight_class_proof(broken, 3)


def test_selection_beyond_the_library_prunes_the_families() -> None:
    net = selection_network(100, 50)
    assert net.graph.graph["source"].endswith("pruned to k=50")
    assert sortnet.verify(net, 50).ok


def test_selection_errors() -> None:
    with pytest.raises(InputError, match=r"k must be in 1..n=4, got 5"):
        selection_network(4, 5)
    with pytest.raises(InputError, match=r"k must be an integer in 1..n=4 or median"):
        selection_network(4, "middle")
    with pytest.raises(SortnetError, match="n must be an integer >= 1, got 0"):
        selection_network(0, 1)


# -- provenance ----------------------------------------------------------------------------
def test_packaged_data_equals_the_shared_files() -> None:
    """The packaged library is exactly SorterHunter's best files (when ../shared is here)."""
    shared = Path(__file__).resolve().parents[2] / "shared" / "data" / "sorterhunter"
    if not shared.is_dir():
        pytest.skip(f"{shared} is not beside the repository")
    assert sorterhunter_data.main([str(shared), "--check"]) == 0


def test_cli_verify_and_info_take_selection(capsys: pytest.CaptureFixture[str]) -> None:
    from sortnet.cli import main

    assert main(["verify", "selection", "25", "--k", "median"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("selection 25: selects k=13 (exhaustive proof") and "size=85" in out
    assert main(["info", "selection", "33", "--k", "2"]) == 0
    assert "size:   63" in capsys.readouterr().out
    assert main(["verify", "selection", "9"]) == 2
    assert "'selection' needs N and --k" in capsys.readouterr().err

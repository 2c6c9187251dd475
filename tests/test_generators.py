"""Network families: closed forms, exhaustive 0-1 checks for n <= 16, registry errors."""

from __future__ import annotations

import re

import numpy as np
import pytest

import sortnet
from sortnet import Network, SortnetError
from sortnet.generators import FAMILIES, best, bitonic, list_families, network
from sortnet.generators.bitonic import classic_bitonic

FAMILY_NAMES = list_families()
BEST_SIZES = [0, 1, 3, 5, 9, 12, 16, 19, 25, 29, 35, 39, 45, 51, 56, 60]
BEST_DEPTHS = [0, 1, 3, 3, 5, 5, 6, 6, 7, 8, 8, 9, 10, 10, 10, 10]
BEST_DEPTH_VARIANTS = {10: (31, 7), 12: (40, 8), 13: (46, 9), 14: (52, 9), 15: (57, 9), 16: (61, 9)}
# Knuth's table of Batcher's merge exchange sizes for n = 1..16 (TAOCP 5.3.4).
BATCHER_SIZES = [0, 1, 3, 5, 9, 12, 16, 19, 26, 31, 37, 41, 48, 53, 59, 63]


# -- a small bit-parallel 0-1 checker (the real one lives in sortnet.verify) ---------------
def _wire_bits(n: int) -> list[int]:
    """Wire w as one big int whose bit p is bit w of pattern p, for all 2^n patterns."""
    patterns = np.arange(1 << n, dtype=np.uint32)
    return [
        int.from_bytes(
            np.packbits(((patterns >> w) & 1).astype(np.uint8), bitorder="little").tobytes(),
            "little",
        )
        for w in range(n)
    ]


def zero_one_sorts(net: Network) -> bool:
    """True when ``net`` sorts every 0-1 input (hence every input, by the 0-1 principle)."""
    wires = _wire_bits(net.n)
    for i, j in net.comparators:
        wires[i], wires[j] = wires[i] & wires[j], wires[i] | wires[j]  # min = AND, max = OR
    out = [wires[w] for w in net.output_wires]
    if len(out) != net.n:
        return False
    # Sorted means no pattern has a 1 at position p followed by a 0 at position p + 1.
    return all(out[p] & ~out[p + 1] == 0 for p in range(net.n - 1))


def test_checker_catches_a_broken_network() -> None:
    good = best(8)
    broken = Network.from_comparators(8, good.comparators[:-1])
    assert zero_one_sorts(good)
    assert not zero_one_sorts(broken)
    assert not zero_one_sorts(Network.from_comparators(3, [(0, 1), (1, 2)]))


# -- exhaustive 0-1 for every family and every n <= 16 ------------------------------------
@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_every_family_sorts_every_n_up_to_16(family: str) -> None:
    failures = [n for n in range(1, 17) if not zero_one_sorts(network(family, n))]
    assert failures == []


def test_depth_optimal_best_networks_sort() -> None:
    failures = [n for n in range(1, 17) if not zero_one_sorts(best(n, optimize="depth"))]
    assert failures == []


@pytest.mark.parametrize("family", FAMILY_NAMES)
@pytest.mark.parametrize("n", [1, 2, 5, 8, 11])
def test_descending_reverses_the_order(family: str, n: int) -> None:
    net = network(family, n, descending=True)
    assert net.descending and net.output_wires == list(range(n))[::-1]
    reversed_positions = Network.from_comparators(n, net.comparators)
    assert zero_one_sorts(reversed_positions)


# -- closed forms -------------------------------------------------------------------------
SAMPLE_N = [1, 2, 3, 4, 5, 6, 7, 9, 12, 16, 17, 23, 32]


@pytest.mark.parametrize("family", ["bubble", "insertion"])
@pytest.mark.parametrize("n", SAMPLE_N)
def test_bubble_and_insertion_closed_forms(family: str, n: int) -> None:
    net = network(family, n)
    assert net.size == n * (n - 1) // 2
    assert net.depth == (2 * n - 3 if n >= 2 else 0)


def test_bubble_4_is_the_six_module_network() -> None:
    assert network("bubble", 4).size == 6


def test_bubble_and_insertion_share_their_layers() -> None:
    for n in range(1, 17):
        layers = [sorted(layer) for layer in network("bubble", n).layers()]
        assert layers == [sorted(layer) for layer in network("insertion", n).layers()]


@pytest.mark.parametrize("n", SAMPLE_N)
def test_odd_even_transposition_closed_form(n: int) -> None:
    net = network("odd-even-transposition", n)
    assert net.size == n * (n - 1) // 2
    assert net.depth == {1: 0, 2: 1}.get(n, n)


def _batcher_size(t: int) -> int:
    return ((t * t - t + 4) << t) // 4 - 1  # (t^2 - t + 4) 2^(t-2) - 1


@pytest.mark.parametrize("family", ["odd-even-merge", "pairwise"])
@pytest.mark.parametrize("t", range(0, 8))
def test_batcher_closed_forms_for_powers_of_two(family: str, t: int) -> None:
    net = network(family, 1 << t)
    assert (net.size, net.depth) == (_batcher_size(t), t * (t + 1) // 2)


@pytest.mark.parametrize("t", range(0, 8))
def test_bitonic_closed_form_for_powers_of_two(t: int) -> None:
    net = network("bitonic", 1 << t)
    assert (net.size, net.depth) == (((t * (t + 1) // 2) << t) // 2, t * (t + 1) // 2)


def test_headline_numbers() -> None:
    assert network("odd-even-merge", 4).size == 5
    assert (network("odd-even-merge", 16).size, network("odd-even-merge", 16).depth) == (63, 10)
    assert (network("bitonic", 16).size, network("bitonic", 16).depth) == (80, 10)


def test_odd_even_merge_matches_knuths_table() -> None:
    assert [network("odd-even-merge", n).size for n in range(1, 17)] == BATCHER_SIZES


@pytest.mark.parametrize("family", ["odd-even-merge", "bitonic", "pairwise"])
@pytest.mark.parametrize("n", [3, 5, 6, 7, 9, 12, 13, 15, 17, 24, 31, 33])
def test_non_powers_of_two_stay_within_the_next_power(family: str, n: int) -> None:
    t = (n - 1).bit_length()
    net, padded = network(family, n), network(family, 1 << t)
    assert net.depth <= t * (t + 1) // 2
    assert net.size < padded.size


@pytest.mark.parametrize("size", [2, 4, 8, 16, 32, 64])
def test_bitonic_is_the_standard_form_of_batchers_descending_network(size: int) -> None:
    classic = classic_bitonic(size)
    assert any(a > b for a, b in classic) == (size > 2)  # descending from n = 4 on
    converted = Network.from_comparators(size, classic)
    assert converted.output_wires == list(range(size))
    layers = [sorted(layer) for layer in bitonic(size).layers()]
    assert layers == [sorted(layer) for layer in converted.layers()]


# -- best-known networks -------------------------------------------------------------------
def test_best_sizes_and_depths_match_the_table() -> None:
    nets = [best(n) for n in range(1, 17)]
    assert [net.size for net in nets] == BEST_SIZES
    assert [net.depth for net in nets] == BEST_DEPTHS


def test_best_depth_variants() -> None:
    for n in range(1, 17):
        net = network("best", n, optimize="depth")
        expected = BEST_DEPTH_VARIANTS.get(n, (BEST_SIZES[n - 1], BEST_DEPTHS[n - 1]))
        assert (net.size, net.depth) == expected, n
        assert net.name == (f"best-{n}-depth" if n in BEST_DEPTH_VARIANTS else f"best-{n}")
        assert net.graph.graph["optimize"] == "depth"


def test_best_matches_the_sorterhunter_pareto_front(sorterhunter_dir) -> None:
    front: dict[int, list[tuple[int, int]]] = {}
    for path in (sorterhunter_dir / "sorters").glob("Sort_*.json"):
        n, size, depth = (int(v) for v in path.stem.split("_")[1:])
        front.setdefault(n, []).append((size, depth))
    for n in range(2, 17):
        smallest = min(front[n])
        shallowest = min(front[n], key=lambda sd: (sd[1], sd[0]))
        assert (best(n).size, best(n).depth) == smallest, n
        assert (best(n, optimize="depth").size, best(n, optimize="depth").depth) == shallowest


# -- metadata ------------------------------------------------------------------------------
@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_metadata_family_and_name(family: str) -> None:
    net = network(family, 8)
    assert net.graph.graph["family"] == family
    assert net.name == f"{family}-8"
    assert net.n == 8 and net.kind == "comparator"


def test_public_exports() -> None:
    assert sortnet.network is network and sortnet.list_families is list_families
    assert (
        set(FAMILY_NAMES)
        == set(FAMILIES)
        == {
            "bubble",
            "insertion",
            "odd-even-transposition",
            "odd-even-merge",
            "bitonic",
            "pairwise",
            "best",
        }
    )
    assert sortnet.selection_network is sortnet.generators.selection_network


# -- bad input -----------------------------------------------------------------------------
def test_unknown_family_lists_the_known_ones() -> None:
    with pytest.raises(
        SortnetError, match=r"unknown family 'quick'; known families: bubble, .*best"
    ):
        network("quick", 4)


def test_family_must_be_a_string() -> None:
    with pytest.raises(SortnetError, match="unknown family 4"):
        network(4, 4)  # type: ignore[arg-type]


@pytest.mark.parametrize("family", FAMILY_NAMES)
@pytest.mark.parametrize("bad", [0, -3, 2.5, "4", True, None])
def test_bad_n(family: str, bad: object) -> None:
    with pytest.raises(SortnetError, match=re.escape(f"n must be an integer >= 1, got {bad!r}")):
        network(family, bad)  # type: ignore[arg-type]


def test_unknown_option() -> None:
    with pytest.raises(SortnetError, match="family 'bubble' takes no option 'optimize'"):
        network("bubble", 4, optimize="depth")
    with pytest.raises(SortnetError, match="family 'best' takes no option 'speed'"):
        network("best", 4, speed=True)


def test_bad_descending() -> None:
    with pytest.raises(SortnetError, match="option 'descending' must be True or False, got 'yes'"):
        network("bitonic", 4, descending="yes")


def test_bad_optimize() -> None:
    with pytest.raises(
        SortnetError, match="option 'optimize' must be 'size' or 'depth', got 'speed'"
    ):
        network("best", 4, optimize="speed")


def test_best_beyond_64_names_the_limit() -> None:
    with pytest.raises(SortnetError, match=r"n=65 .*only n <= 64.*odd-even-merge.*bitonic"):
        network("best", 65)

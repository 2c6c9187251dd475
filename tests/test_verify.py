"""0-1 verification: exhaustive bit-parallel proofs, counterexamples, randomized fallback."""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

import numpy as np
import pytest

import sortnet
from sortnet import InputError, Network, SortnetError, VerificationResult, verify
from sortnet import zero_one as zo


def brute_force_ok(net: Network, k: int | None = None) -> bool:
    """Reference: run all 2**n 0-1 rows through the circuit executor."""
    rows = np.array(list(itertools.product((0, 1), repeat=net.n)), dtype=np.int64)
    expected = np.sort(rows, axis=1)
    if net.descending:
        expected = expected[:, ::-1]
    got = sortnet.sort(rows, net, k=k)
    if k is not None:
        column = net.n - k if net.descending else k - 1
        return bool((got[:, 0] == expected[:, column]).all())
    return bool((got == expected[:, list(net.outputs)]).all())


def fails_on(net: Network, row: tuple[int, ...], k: int | None = None) -> bool:
    """True when the executor gets ``row`` wrong (sorting, or the k-th smallest)."""
    x = np.array([row])
    want = np.sort(x, axis=1)
    if k is not None:
        return bool(sortnet.sort(x, net, k=k)[0, 0] != want[0, k - 1])
    if net.descending:
        want = want[:, ::-1]
    return bool((sortnet.sort(x, net) != want[:, list(net.outputs)]).any())


def random_network(rng: random.Random, n: int, size: int) -> Network:
    pairs = [tuple(sorted(rng.sample(range(n), 2))) for _ in range(size if n > 1 else 0)]
    return Network.from_comparators(n, pairs)


@pytest.fixture(params=["default", "tiny caps"])
def caps(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run with the real caps, and with caps so small the suffix and outer paths run."""
    if request.param == "tiny caps":
        monkeypatch.setattr(zo, "GROUP_CAP", 4)
        monkeypatch.setattr(zo, "INNER_CAP", 8)
        monkeypatch.setattr(zo, "INNER_MIN", 2)
        monkeypatch.setattr(zo, "PREFIX_BUDGET", 40)
    return str(request.param)


# -- exhaustive proofs agree with brute force -------------------------------------------
def test_exhaustive_agrees_with_brute_force_on_random_networks(caps: str) -> None:
    rng = random.Random(7)
    seen = {True: 0, False: 0}
    for trial in range(120):
        n = rng.randint(1, 8)
        net = random_network(rng, n, rng.randint(0, 3 * n * n // 2 + 2))
        result = verify(net)
        assert result.exhaustive and result.ok == brute_force_ok(net), (trial, net.comparators)
        seen[result.ok] += 1
        if result.ok:
            assert result.checked == 2**n and result.counterexample is None
        else:
            assert fails_on(net, result.counterexample), (trial, result)
        k = rng.randint(1, n)
        selected = verify(net, k)
        assert selected.ok == brute_force_ok(net, k) and selected.k == k
        if not selected.ok:
            assert fails_on(net, selected.counterexample, k)
    assert seen[True] >= 5 and seen[False] >= 5  # both verdicts were exercised


def test_tiny_caps_really_leave_work_to_the_suffix(caps: str) -> None:
    plan = zo.plan_exhaustive(8, sortnet.network("bubble", 8).comparators)
    if caps == "tiny caps":
        assert len(plan.suffix) > 0 and plan.outer  # suffix and outer digits both used
    assert plan.distinct >= 9


@pytest.mark.parametrize("family", sortnet.list_families())
def test_every_family_sorts_for_n_up_to_16(family: str) -> None:
    for n in range(1, 17):
        result = verify(sortnet.network(family, n))
        assert result.ok and result.exhaustive and result.checked == 2**n, (family, n)


def test_descending_networks_are_checked_in_position_order() -> None:
    net = sortnet.network("bitonic", 6, descending=True)
    assert verify(net).ok
    assert verify(net, k=1).ok and verify(net, k="max").ok
    backwards = Network.from_comparators(4, [(1, 0), (3, 2), (2, 0), (3, 1), (2, 1)])
    result = verify(backwards)  # sorts into descending order but does not claim to
    assert not result.ok and fails_on(backwards, result.counterexample)


# -- counterexamples ----------------------------------------------------------------------
def test_broken_network_gives_a_real_counterexample() -> None:
    net = sortnet.network("odd-even-merge", 8)
    broken = Network.from_comparators(8, net.comparators[:-1])
    result = verify(broken)
    assert not result.ok and result.exhaustive
    assert set(result.counterexample) <= {0, 1} and len(result.counterexample) == 8
    assert fails_on(broken, result.counterexample)
    assert verify(broken).counterexample == result.counterexample  # deterministic


def test_counterexample_maps_back_through_outer_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zo, "GROUP_CAP", 2)  # no merges: every wire is its own group
    monkeypatch.setattr(zo, "INNER_CAP", 4)
    monkeypatch.setattr(zo, "INNER_MIN", 2)
    comparators = sortnet.network("bitonic", 12).comparators
    for drop in range(0, len(comparators), 7):
        broken = Network.from_comparators(12, comparators[:drop] + comparators[drop + 1 :])
        result = verify(broken)
        assert not result.ok and fails_on(broken, result.counterexample), drop


# -- SorterHunter data ------------------------------------------------------------------
def _sorterhunter(path: Path, **options: object) -> Network:
    data = json.loads(path.read_text())
    return Network.from_comparators(data["N"], data["nw"], **options)


def test_every_sorterhunter_sorter_up_to_20_is_proved(sorterhunter_dir: Path) -> None:
    files = [
        path
        for path in sorted((sorterhunter_dir / "sorters").glob("Sort_*.json"))
        if int(path.stem.split("_")[1]) <= 20
    ]
    assert len(files) >= 20
    for path in files:
        net = _sorterhunter(path)
        result = verify(net, exhaustive=True)
        assert result.ok and result.checked == 2**net.n, path.name
        # Best-known networks have no redundant comparator: without the last one they fail.
        broken = Network.from_comparators(net.n, net.comparators[:-1])
        failed = verify(broken)
        assert not failed.ok and fails_on(broken, failed.counterexample), path.name


def test_sorterhunter_median_networks_select_the_median(sorterhunter_dir: Path) -> None:
    files = [
        path
        for path in sorted((sorterhunter_dir / "median").glob("Median_*.json"))
        if int(path.stem.split("_")[1]) <= 25
    ]
    assert len(files) >= 20
    for path in files:
        net = _sorterhunter(path)
        n = net.n
        if n % 2:
            middle = Network.from_comparators(n, net.comparators, outputs=[(n - 1) // 2])
            result = verify(middle)
            assert result.ok and result.exhaustive and result.k == (n + 1) // 2, path.name
            assert verify(net, k="median").ok, path.name
        else:
            # The two middle wires hold the two middle values in either order.
            ordered = Network.from_comparators(n, [*net.comparators, (n // 2 - 1, n // 2)])
            assert verify(ordered, k=n // 2).ok and verify(ordered, k=n // 2 + 1).ok, path.name


# -- randomized fallback ------------------------------------------------------------------
def test_randomized_check_is_labelled_and_finds_gross_failures() -> None:
    net = sortnet.network("odd-even-merge", 16)
    result = verify(net, exhaustive=False, samples=5000, seed=1)
    assert result.ok and not result.exhaustive and result.checked >= 5000
    assert "not a proof" in repr(result)
    broken = Network.from_comparators(16, net.comparators[:-3])
    failed = verify(broken, exhaustive=False, samples=5000, seed=1)
    assert not failed.ok and fails_on(broken, failed.counterexample)


def test_randomized_permutation_stage_reports_a_permutation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Blind the 0-1 stage so the permutation stage must catch the failure on its own.
    monkeypatch.setattr(zo, "check_block", lambda block, suffix, check: (-1, 0))
    broken = Network.from_comparators(5, [(0, 1), (2, 3)])
    result = verify(broken, exhaustive=False, samples=640, seed=3)
    assert not result.ok and not result.exhaustive
    assert sorted(result.counterexample) == [0, 1, 2, 3, 4]  # a permutation of 0..n-1
    assert fails_on(broken, result.counterexample)


def test_large_n_falls_back_to_randomized_and_refuses_forced_exhaustive() -> None:
    net = sortnet.network("odd-even-merge", 70)
    result = verify(net, samples=2048, seed=0)
    assert result.ok and not result.exhaustive
    with pytest.raises(InputError, match=r"exhaustive verification needs n <= 64 .*got n=70"):
        verify(net, exhaustive=True)


def test_n_up_to_64_with_a_small_prefix_is_proved_exhaustively() -> None:
    result = verify(sortnet.network("odd-even-merge", 64))
    assert result.ok and result.exhaustive and result.checked == 2**64


# -- result type and errors ---------------------------------------------------------------
def test_result_is_frozen_and_readable() -> None:
    result = verify(sortnet.network("best", 4))
    assert isinstance(result, VerificationResult)
    with pytest.raises(AttributeError):
        result.ok = False  # type: ignore[misc]
    assert repr(result).startswith("VerificationResult(ok=True: sorts; exhaustive 0-1 proof")
    assert {"ok", "exhaustive", "checked", "counterexample", "elapsed"} <= set(result.to_dict())
    assert result.elapsed >= 0


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"samples": 0}, InputError, r"samples must be a positive integer, got 0"),
        ({"samples": 1.5}, InputError, r"samples must be a positive integer, got 1.5"),
        ({"k": 9}, InputError, r"k must be in 1..n=8, got 9"),
        ({"k": "middle"}, InputError, r"k must be an integer in 1..n=8 or median"),
    ],
)
def test_bad_arguments(kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        verify(sortnet.network("bitonic", 8), **kwargs)


def test_rejects_non_comparator_networks() -> None:
    with pytest.raises(SortnetError, match="verify needs a comparator network, got a counting"):
        verify(sortnet.counting_network(4))
    with pytest.raises(SortnetError, match="verify needs a comparator network, got list"):
        verify([(0, 1)])  # type: ignore[arg-type]


def test_k_absent_from_a_selection_network() -> None:
    net = Network.from_comparators(3, [(0, 1), (1, 2), (0, 1)], outputs=[1])
    assert verify(net).ok and verify(net).k == 2
    with pytest.raises(InputError, match=r"network has no output for k=1 \(its outputs hold k=2\)"):
        verify(net, k=1)


def test_progress_bar_can_be_forced(capsys: pytest.CaptureFixture[str]) -> None:
    assert verify(sortnet.network("bubble", 10), progress=True).ok
    assert verify(sortnet.network("bubble", 10), progress=False).ok

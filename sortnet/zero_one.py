"""Bit-parallel 0-1 checking: the prefix reduction and the numpy kernel.

By the 0-1 principle a comparator network sorts (or selects) every input iff it
does so for the ``2**n`` inputs of zeros and ones. Patterns are *bit-sliced*: wire
``i`` of 64 patterns is one ``uint64`` word, so a comparator is one AND (minimum)
and one OR (maximum) per word.

Two tricks keep the exhaustive check fast:

* **Prefix reduction** (after SorterHunter): only the distinct outputs of a prefix of
  the network need to go through the rest. Wires start in singleton groups with
  outputs ``{0, 1}``; a comparator inside a group maps the group's output set, one
  joining two groups replaces them by the product of their sets. Sets are kept as
  ``uint64`` bitmasks (so this needs ``n <= 64``), deduplicated before each product,
  and a product larger than :data:`GROUP_CAP` stops that comparator (and everything
  after it on its wires) from joining the prefix. The prefix outputs are then the
  Cartesian product of the group sets, usually far fewer than ``2**n``.
* **Inner block × outer digits**: the smallest groups form an *inner* block,
  bit-sliced once; the remaining *outer* groups are enumerated in mixed radix and,
  being constant across a block, become all-zero or all-one words. Generating the
  input of a block is therefore one OR per wire and word.

Each distinct prefix output keeps a representative input, so a failure maps back to
a concrete 0-1 counterexample. The kernel is plain numpy: on blocks that fit in cache
its ufuncs ran within 20% of a hand-written numba loop (0.8 vs 0.7 ns per word and
comparator), not worth a JIT compile and a dependency.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Largest output set a prefix group may reach (bitmasks; bounds memory to ~100 MB).
GROUP_CAP = 1 << 21
#: Element operations the prefix may spend before the rest is left to the suffix
#: (bounds planning time to about a second).
PREFIX_BUDGET = 1 << 29
#: In-group comparators between deduplications of a group's output set.
DEDUPE_EVERY = 16
#: Largest inner block, in patterns (bit-sliced once; one block per outer index).
INNER_CAP = 1 << 16
#: Inner blocks below this many patterns are grown (padding to 64 would waste words).
INNER_MIN = 1 << 12
#: Hard limit on an inner block grown past INNER_CAP (bounds its memory).
INNER_MAX = 1 << 22
ALL_ONES = np.uint64(0xFFFF_FFFF_FFFF_FFFF)
NO_FAILURE = (-1, -1, 0)


@dataclass(frozen=True)
class Check:
    """What the suffix outputs must satisfy, as bit-sliced conditions.

    ``pairs`` rows ``(a, b)``: wire ``a`` must not exceed wire ``b`` (sortedness).
    ``thresholds`` rows ``(w, t)``: wire ``w`` must be 1 iff the pattern has at least
    ``t`` ones (the output holding a given order statistic). ``count_bits`` is the
    width of the bit-sliced ones counter (0 when there are no thresholds).
    """

    pairs: np.ndarray
    thresholds: np.ndarray
    count_bits: int


def make_check(n: int, ranked_wires: dict[int, int]) -> Check:
    """Conditions for outputs given as ``{rank: wire}`` (0-based rank of the value).

    All ``n`` ranks present: a sortedness check on consecutive ranks. Otherwise the
    wire of rank ``r`` must hold the ``(r+1)``-th smallest: for 0-1 inputs that is 1
    iff the pattern has at least ``n - r`` ones.
    """
    empty = np.zeros((0, 2), dtype=np.int64)
    if len(ranked_wires) == n:
        pairs = np.array(
            [(ranked_wires[r], ranked_wires[r + 1]) for r in range(n - 1)], dtype=np.int64
        ).reshape(-1, 2)
        return Check(pairs, empty, 0)
    thresholds = np.array(
        [(wire, n - rank) for rank, wire in sorted(ranked_wires.items())], dtype=np.int64
    ).reshape(-1, 2)
    return Check(empty, thresholds, int(n).bit_length())


@dataclass(frozen=True)
class Plan:
    """An exhaustive check split into a prefix (done) and a suffix (to run).

    The patterns to run are ``inner[:, w] | spread(outer_mask(u))`` for every word
    ``w`` of the inner block and every outer index ``u < outer_count``.
    """

    n: int
    suffix: np.ndarray  # (m, 2) int64 comparators still to apply
    inner: np.ndarray  # (n, words) uint64, bit-sliced inner patterns (padded)
    inner_reps: np.ndarray  # representative input of each inner pattern (padded)
    inner_count: int  # distinct inner patterns (before padding)
    outer: list[tuple[np.ndarray, np.ndarray]]  # (outputs, representatives) per group

    @property
    def outer_count(self) -> int:
        """Number of outer indices (product of the outer group sizes)."""
        count = 1
        for outs, _ in self.outer:
            count *= len(outs)
        return count

    @property
    def distinct(self) -> int:
        """Distinct prefix outputs the suffix must check."""
        return self.inner_count * self.outer_count

    def outer_masks(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Outputs and representative inputs of outer indices ``start..stop-1``."""
        u = np.arange(start, stop, dtype=np.int64)
        masks = np.zeros(len(u), dtype=np.uint64)
        reps = np.zeros(len(u), dtype=np.uint64)
        stride = 1
        for outs, group_reps in self.outer:
            digit = (u // stride) % len(outs)
            masks |= outs[digit]
            reps |= group_reps[digit]
            stride *= len(outs)
        return masks, reps


def plan_exhaustive(n: int, comparators: list[tuple[int, int]]) -> Plan:
    """Run the prefix reduction and lay out the suffix enumeration (needs ``n <= 64``)."""
    outs: dict[int, np.ndarray] = {}  # group id (its lowest wire) -> output masks
    reps: dict[int, np.ndarray] = {}  # group id -> representative input per output
    changes: dict[int, int] = {}  # group id -> comparators applied since last dedupe
    group_of = list(range(n))
    for w in range(n):
        outs[w] = np.array([0, 1 << w], dtype=np.uint64)
        reps[w] = outs[w].copy()
        changes[w] = 0
    frozen = 0  # wires touched by a comparator left to the suffix
    suffix = []
    spent = 0  # element operations so far, against PREFIX_BUDGET
    for i, j in comparators:
        if spent > PREFIX_BUDGET:
            frozen = (1 << n) - 1
        if (frozen >> i) & 1 or (frozen >> j) & 1:
            suffix.append((i, j))
            frozen |= (1 << i) | (1 << j)
            continue
        gi, gj = group_of[i], group_of[j]
        # Deduplicate before a product (keeps it small), and now and then inside a
        # group, since comparators collapse many patterns into few.
        due = 1 if gi != gj else DEDUPE_EVERY
        for g in {gi, gj}:
            if changes[g] >= due:
                spent += 4 * len(outs[g])
                outs[g], reps[g] = _dedupe(outs[g], reps[g])
                changes[g] = 0
        if gi != gj:
            if len(outs[gi]) * len(outs[gj]) > GROUP_CAP:
                suffix.append((i, j))
                frozen |= (1 << i) | (1 << j)
                continue
            keep, gone = min(gi, gj), max(gi, gj)
            outs[keep] = (outs[gi][:, None] | outs[gj][None, :]).ravel()
            reps[keep] = (reps[gi][:, None] | reps[gj][None, :]).ravel()
            for w in range(n):
                if group_of[w] == gone:
                    group_of[w] = keep
            del outs[gone], reps[gone], changes[gone]
            gi = keep
        outs[gi] = _apply_to_masks(outs[gi], i, j)
        changes[gi] += 1
        spent += 6 * len(outs[gi])
    groups = []
    for g in outs:
        if changes[g]:
            outs[g], reps[g] = _dedupe(outs[g], reps[g])
        groups.append((outs[g], reps[g]))
    return _layout(n, np.array(suffix, dtype=np.int64).reshape(-1, 2), groups)


def _dedupe(outs: np.ndarray, reps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    unique, first = np.unique(outs, return_index=True)
    return unique, reps[first]


def _apply_to_masks(masks: np.ndarray, i: int, j: int) -> np.ndarray:
    """Apply comparator ``(i, j)`` to patterns stored as bitmasks (one per pattern)."""
    swap = ((masks >> np.uint64(i)) & ~(masks >> np.uint64(j))) & np.uint64(1)
    return masks ^ (swap * np.uint64((1 << i) | (1 << j)))


def _layout(n: int, suffix: np.ndarray, groups: list[tuple[np.ndarray, np.ndarray]]) -> Plan:
    """Choose the inner block (smallest groups first) and bit-slice it."""
    groups.sort(key=lambda group: len(group[0]))
    taken, size = 0, 1
    while taken < len(groups) and size * len(groups[taken][0]) <= INNER_CAP:
        size *= len(groups[taken][0])
        taken += 1
    chosen = list(range(taken))
    # A small inner block wastes most of each word on padding: grow it by the next
    # group, or let that (large) group be the inner block on its own.
    if size < INNER_MIN and taken < len(groups):
        chosen = chosen + [taken] if size * len(groups[taken][0]) <= INNER_MAX else [taken]
    inner_outs = np.zeros(1, dtype=np.uint64)
    inner_reps = np.zeros(1, dtype=np.uint64)
    for index in chosen:
        outs, reps = groups[index]
        inner_outs = (outs[:, None] | inner_outs[None, :]).ravel()
        inner_reps = (reps[:, None] | inner_reps[None, :]).ravel()
    outer = [group for index, group in enumerate(groups) if index not in chosen]
    count = len(inner_outs)
    padded = -count % 64
    # Padding repeats a real pattern, so it can only repeat a verdict, never invent one.
    inner_outs = np.concatenate([inner_outs, np.repeat(inner_outs[:1], padded)])
    inner_reps = np.concatenate([inner_reps, np.repeat(inner_reps[:1], padded)])
    return Plan(n, suffix, bit_slice(inner_outs, n), inner_reps, count, outer)


def bit_slice(masks: np.ndarray, n: int) -> np.ndarray:
    """Turn ``64 * words`` bitmask patterns into an ``(n, words)`` bit-sliced array.

    Examples
    --------
    >>> words = bit_slice(np.arange(64, dtype=np.uint64), 2)
    >>> [hex(int(w)) for w in words[:, 0]]
    ['0xaaaaaaaaaaaaaaaa', '0xcccccccccccccccc']
    """
    as_bytes = masks.astype("<u8").view(np.uint8).reshape(len(masks), 8)
    bits = np.unpackbits(as_bytes, axis=1, bitorder="little")[:, :n]
    packed = np.packbits(np.ascontiguousarray(bits.T), axis=1, bitorder="little")
    return np.ascontiguousarray(packed).view("<u8").astype(np.uint64)


def spread(masks: np.ndarray, n: int) -> np.ndarray:
    """``(n, len(masks))`` words: all ones where bit ``i`` of the mask is set, else 0."""
    bits = (masks[None, :] >> np.arange(n, dtype=np.uint64)[:, None]) & np.uint64(1)
    return bits * ALL_ONES


def check_block(block: np.ndarray, suffix: np.ndarray, check: Check) -> tuple[int, int]:
    """Run the suffix on a bit-sliced block (modified in place); first failure or (-1, 0).

    Returns the index of the first word with a failing pattern and the word of
    failing bits (bit ``b`` set: pattern ``b`` of that word fails).
    """
    rows = list(block)  # row views we can rebind: a comparator swaps buffers, not data
    spare = np.empty_like(rows[0]) if rows else np.empty(0, dtype=np.uint64)
    for a, b in suffix.tolist():
        np.bitwise_and(rows[a], rows[b], out=spare)
        np.bitwise_or(rows[a], rows[b], out=rows[b])
        rows[a], spare = spare, rows[a]
    bad = np.zeros(block.shape[1], dtype=np.uint64)
    for a, b in check.pairs.tolist():
        bad |= rows[a] & ~rows[b]
    if len(check.thresholds):
        counter = _count_ones(rows, check.count_bits)
        for wire, t in check.thresholds.tolist():
            bad |= _at_least(counter, t) ^ rows[wire]
    failing = np.flatnonzero(bad)
    if failing.size == 0:
        return -1, 0
    return int(failing[0]), int(bad[failing[0]])


def _count_ones(rows: list[np.ndarray], width: int) -> list[np.ndarray]:
    """Bit-sliced binary counter (least significant bit first) of the ones per pattern."""
    counter = [np.zeros_like(rows[0]) for _ in range(width)]
    for row in rows:
        carry = row.copy()
        for bit in counter:
            overflow = bit & carry
            bit ^= carry
            carry = overflow
    return counter


def _at_least(counter: list[np.ndarray], t: int) -> np.ndarray:
    """Words whose bit is set where the counted value is at least the constant ``t``."""
    greater = np.zeros_like(counter[0])
    equal = np.full_like(counter[0], ALL_ONES)
    for position in reversed(range(len(counter))):
        if (t >> position) & 1:
            equal &= counter[position]
        else:
            greater |= equal & counter[position]
            equal &= ~counter[position]
    return greater | equal

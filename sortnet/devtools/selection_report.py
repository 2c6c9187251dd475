"""Print the size of ``selection_network(n, k)`` against the best sorter pruned to k.

Run as ``python -m sortnet.devtools.selection_report [--markdown]``: for every
``n = 2..64`` and ``k`` = min, 2, n//4, median (lower), upper median and max, the
selection network's size and, in brackets, the size of the best-known sorter (the
smaller of its size and depth variants) pruned to output k with :func:`sortnet.select`.
"""

from __future__ import annotations

import sys

from sortnet.generators import best, selection_network
from sortnet.select import select

#: Column heads and the rank each stands for.
COLUMNS = (
    ("min", lambda n: 1),
    ("2", lambda n: min(2, n)),
    ("n//4", lambda n: max(1, n // 4)),
    ("median", lambda n: (n + 1) // 2),
    ("upper", lambda n: n // 2 + 1),
    ("max", lambda n: n),
)


def row(n: int) -> list[tuple[int, int]]:
    """``(selection size, pruned best size)`` per column at ``n``.

    Examples
    --------
    >>> row(25)[3]
    (85, 102)
    """
    cells = []
    for _, rank in COLUMNS:
        k = rank(n)
        pruned = min(select(best(n, optimize=o), k).size for o in ("size", "depth"))
        cells.append((selection_network(n, k).size, pruned))
    return cells


def main(argv: list[str]) -> int:
    """Print the table (markdown with ``--markdown``); 0."""
    markdown = "--markdown" in argv
    heads = ["n"] + [f"k={name}" for name, _ in COLUMNS]
    if markdown:
        print("| " + " | ".join(heads) + " |")
        print("|" + " --- |" * len(heads))
    else:
        print("  ".join(f"{head:>11}" for head in heads))
    wins = []
    for n in range(2, 65):
        cells = row(n)
        text = [f"{s} ({p})" if s < p else f"{s}" for s, p in cells]
        wins += [(n, COLUMNS[c][0], p - s) for c, (s, p) in enumerate(cells) if s < p]
        if markdown:
            print(f"| {n} | " + " | ".join(text) + " |")
        else:
            print("  ".join(f"{cell:>11}" for cell in [str(n), *text]))
    saved = sum(gain for _, _, gain in wins)
    print(
        f"\nsmaller than the pruned best sorter in {len(wins)} of {63 * len(COLUMNS)} cells "
        f"(max saving {max(g for *_, g in wins)}, total {saved} comparators)"
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))

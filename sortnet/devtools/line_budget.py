"""Print the line counts of the core's modules and flag those past the budget.

Run as ``python -m sortnet.devtools.line_budget sortnet compilers``. It never fails
the build (no hard limit yet); a module past :data:`BUDGET` lines is a sign to split
it by job.
"""

from __future__ import annotations

import sys
from pathlib import Path

#: Lines past which a module should be split by job.
BUDGET = 400


def line_counts(roots: list[str]) -> list[tuple[str, int]]:
    """``(path, lines)`` for every Python module under ``roots``, largest first.

    Examples
    --------
    >>> counts = line_counts(["sortnet/devtools"])
    >>> [path for path, _ in counts if path.endswith("line_budget.py")]
    ['sortnet/devtools/line_budget.py']
    """
    counts = []
    for root in roots:
        for path in sorted(Path(root).rglob("*.py")):
            with path.open(encoding="utf-8") as handle:
                counts.append((path.as_posix(), sum(1 for _ in handle)))
    return sorted(counts, key=lambda item: (-item[1], item[0]))


def main(argv: list[str]) -> int:
    """Print the table; return 0."""
    counts = line_counts(argv or ["sortnet", "compilers"])
    for path, lines in counts:
        flag = "  <- over budget: split by job" if lines > BUDGET else ""
        print(f"{lines:6d}  {path}{flag}")
    print(f"{sum(lines for _, lines in counts):6d}  total ({len(counts)} modules)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

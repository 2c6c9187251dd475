"""Regenerate the packaged SorterHunter library from a SorterHunter ``Networks`` checkout.

Run as ``python -m sortnet.devtools.sorterhunter_data [SOURCE]`` (default
``../shared/data/sorterhunter``, which holds ``sorters/Sort_<N>_<L>_<D>.json``,
``median/Median_<N>_<L>_<D>.json`` and SorterHunter's MIT ``LICENSE``). For every
``N`` it keeps the network with the fewest comparators (ties: fewest layers) and the
one with the fewest layers (ties: fewest comparators), and writes them to
``sortnet/generators/data/sorters.json`` and ``medians.json`` with the licence text
beside them. ``--check`` compares instead of writing and exits 1 on a difference.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

#: Where the packaged library lives.
DATA_DIR = Path(__file__).resolve().parents[1] / "generators" / "data"
#: The default SorterHunter source, relative to the repository root.
DEFAULT_SOURCE = Path("..") / "shared" / "data" / "sorterhunter"
#: The upstream the files come from (repository and commit of the snapshot).
UPSTREAM = "github.com/bertdobbelaere/SorterHunter, commit 392762f, Networks/"
#: (packaged file, source folder, file-name prefix) for each kind of network.
KINDS = (("sorters.json", "sorters", "Sort"), ("medians.json", "median", "Median"))


def pick(networks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The size-optimal and the depth-optimal network of one ``N`` (one if they coincide).

    Size-optimal: fewest comparators, then fewest layers; depth-optimal: fewest
    layers, then fewest comparators; remaining ties go to the first file name.

    Examples
    --------
    >>> nets = [{"L": 31, "D": 7, "file": "a"}, {"L": 29, "D": 8, "file": "b"}]
    >>> [net["file"] for net in pick(nets)]
    ['b', 'a']
    >>> [net["file"] for net in pick([{"L": 5, "D": 3, "file": "c"}])]
    ['c']
    """
    ordered = sorted(networks, key=lambda net: net["file"])
    by_size = min(ordered, key=lambda net: (net["L"], net["D"]))
    by_depth = min(ordered, key=lambda net: (net["D"], net["L"]))
    return [by_size] if by_depth is by_size else [by_size, by_depth]


def collect(source: Path, folder: str, prefix: str) -> dict[str, Any]:
    """The packaged document for one kind: the picked networks of every ``N``."""
    found: dict[int, list[dict[str, Any]]] = {}
    for path in sorted((source / folder).glob(f"{prefix}_*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        n, size, depth = (int(field) for field in path.stem.split("_")[1:])
        if (data["N"], data["L"], len(data["nw"])) != (n, size, size):
            raise ValueError(f"{path}: N, L or the comparator count disagree with the name")
        flat = [wire for pair in data["nw"] for wire in pair]
        found.setdefault(n, []).append({"L": size, "D": depth, "file": path.stem, "nw": flat})
    if not found:
        raise FileNotFoundError(f"no {prefix}_*.json files in {source / folder}")
    return {
        "source": UPSTREAM + ("Sorters" if prefix == "Sort" else "Median"),
        "licence": "MIT, Copyright (c) 2017 bertdobbelaere; see LICENSE in this folder",
        "layout": "nw is the flat comparator list i0, j0, i1, j1, ...; the minimum goes to i",
        "networks": {str(n): pick(found[n]) for n in sorted(found)},
    }


def render(document: dict[str, Any]) -> str:
    """Compact JSON: one network per line, so that diffs stay readable."""
    lines = ["{"]
    for key in ("source", "licence", "layout"):
        lines.append(f"  {json.dumps(key)}: {json.dumps(document[key])},")
    lines.append('  "networks": {')
    entries = []
    for n, nets in document["networks"].items():
        rows = ",\n".join("      " + json.dumps(net, separators=(",", ":")) for net in nets)
        entries.append(f'    "{n}": [\n{rows}\n    ]')
    lines.append(",\n".join(entries))
    lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    """Write (or with ``--check`` compare) the packaged files; 0 when up to date."""
    check = "--check" in argv
    args = [arg for arg in argv if arg != "--check"]
    source = Path(args[0]) if args else DEFAULT_SOURCE
    stale = []
    for target, folder, prefix in KINDS:
        text = render(collect(source, folder, prefix))
        path = DATA_DIR / target
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(target)
            continue
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path} ({len(text)} bytes)")
    licence = source / "LICENSE"
    if check:
        if (DATA_DIR / "LICENSE").read_text(encoding="utf-8") != licence.read_text("utf-8"):
            stale.append("LICENSE")
    else:
        shutil.copyfile(licence, DATA_DIR / "LICENSE")
    if stale:
        print(f"stale: {', '.join(stale)}; run python -m sortnet.devtools.sorterhunter_data")
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))

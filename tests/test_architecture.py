"""ARCHITECTURE.md stays true: its modules exist, it names every module, imports obey it.

The import rules (ARCHITECTURE.md, "Import rules") are checked on every import
statement of every module, at module level and inside functions, from the AST; a
violation is reported as ``file:line``. Imports under ``if TYPE_CHECKING:`` never run,
so they are held to the rules but are not edges of the run-time import graph that
must have no cycle.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[1]
PAGE = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
NAMED = set(re.findall(r"`((?:sortnet|compilers)/[\w/]*?(?:\.py|/))`", PAGE))
PACKAGES = ("sortnet", "compilers")

#: The IR and its passes: they import only each other.
IR = (
    "sortnet._version",
    "sortnet.errors",
    "sortnet.nodes",
    "sortnet.validate",
    "sortnet.network",
    "sortnet.schedule",
    "sortnet.generators",
    "sortnet.io",
    "sortnet.select",
    "sortnet.verify",
    "sortnet.zero_one",
    "sortnet.progress",
)
#: What both runtimes share (the JIT layer, the dask helpers, the argument checks): they
#: import sortnet.errors and each other only.
SHARED = (
    "sortnet._jit",
    "sortnet._tiles",
    "sortnet._dask",
    "sortnet._args",
    "sortnet._boundary",
    "sortnet._native",
)
#: The model types (and their activation registry) the compilers may import from sortnet.nn.
MODEL_TYPES = ("sortnet.nn", "sortnet.nn.model", "sortnet.nn.layer", "sortnet.nn.activations")
#: The only modules that may import the compilers (besides the compilers themselves).
COMPILER_USERS = (
    "sortnet.cli",
    "sortnet.bench",
    "sortnet.draw.gallery",
    "sortnet.devtools.learned_vs_compiled",
)


def _within(module: str, prefixes: tuple[str, ...] | str) -> bool:
    prefixes = (prefixes,) if isinstance(prefixes, str) else prefixes
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported module of this repository
    where: str  # file:line
    typing_only: bool  # under ``if TYPE_CHECKING:``


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve(name: str) -> str | None:
    """The repository module ``name`` refers to (its longest known prefix), or None."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports_of(module: str, path: Path) -> list[Import]:
    """Every import of a repository module in ``path``, at any depth."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                typing_lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join(parts + ([base] if base else []))
            # ``from pkg import sub`` imports the submodule; ``from mod import name`` the module.
            names = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                for alias in node.names
            ]
        for name in names:
            if name.split(".")[0] not in PACKAGES:
                continue
            target = _resolve(name)
            if target is not None and target != module:
                where = f"{path.relative_to(ROOT).as_posix()}:{node.lineno}"
                found.append(Import(module, target, where, node.lineno in typing_lines))
    return found


IMPORTS = [imp for module, path in MODULES.items() for imp in _imports_of(module, path)]


def _violation(imp: Import) -> str | None:
    """The rule ``imp`` breaks, or None."""
    source, target = imp.source, imp.target
    if _within(target, "compilers") and not _within(source, ("compilers", *COMPILER_USERS)):
        return "rule 2: only the CLI, the bench and the gallery script import compilers"
    if _within(source, "compilers") and not (
        _within(target, ("compilers", *IR)) or target in MODEL_TYPES
    ):
        return "rule 1: compilers import the IR and the model types only"
    if _within(source, "sortnet.circuit") and _within(target, "sortnet.nn"):
        return "rule 3: the circuit runtime never imports the neural runtime"
    if _within(source, "sortnet.nn") and _within(target, "sortnet.circuit"):
        return "rule 3: the neural runtime never imports the circuit runtime"
    if _within(source, IR) and not _within(target, IR):
        return "rule 4: the IR imports only the IR (no runtime, renderer or package root)"
    if _within(source, SHARED) and not _within(target, ("sortnet.errors", *SHARED)):
        return "the shared layer sits under both runtimes: it imports sortnet.errors only"
    if _within(source, ("sortnet.circuit", "sortnet.nn")) and not _within(
        target, ("sortnet.circuit", "sortnet.nn", *IR, *SHARED)
    ):
        return "a runtime imports the IR, the JIT layer and itself only"
    edge = _within(source, COMPILER_USERS)  # the CLI, the bench and the gallery script
    if (
        _within(source, "sortnet.draw")
        and not edge
        and _within(target, ("sortnet.circuit", "sortnet.cli", "sortnet.bench"))
    ):
        return "the renderer draws what it is handed: IR and models only"
    if target == "sortnet" and not edge:
        return "only the edge (CLI, bench, gallery) imports the package root"
    return None


def test_every_import_obeys_the_rules():
    offenders = [
        f"{imp.where}: {imp.source} imports {imp.target} ({rule})"
        for imp in IMPORTS
        if (rule := _violation(imp)) is not None
    ]
    assert offenders == []


def test_no_import_cycles():
    graph = nx.DiGraph()
    graph.add_nodes_from(MODULES)
    where: dict[tuple[str, str], str] = {}
    for imp in IMPORTS:
        if not imp.typing_only:
            graph.add_edge(imp.source, imp.target)
            where.setdefault((imp.source, imp.target), imp.where)
    cycles = [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    details = [[where[edge] for edge in graph.subgraph(cycle).edges()] for cycle in cycles]
    assert cycles == [], details


def test_the_rules_catch_what_they_should():
    # Each rule, on an import that breaks it (so the rule test cannot pass vacuously).
    cases = {
        ("sortnet.nn.model", "compilers.fuse"): "rule 2",
        ("compilers.fuse", "sortnet.nn.executor"): "rule 1",
        ("sortnet.circuit.run", "sortnet.nn.model"): "rule 3",
        ("sortnet.nn.executor", "sortnet.circuit.kernels"): "rule 3",
        ("sortnet.network", "sortnet.draw"): "rule 4",
        ("sortnet.network", "sortnet.io"): None,
        ("sortnet.nn.npz", "sortnet"): "a runtime",
        ("sortnet.select", "sortnet"): "rule 4",
        ("sortnet.draw.layers", "compilers"): "rule 2",
        ("sortnet.draw.layers", "sortnet.nn.activations"): None,
    }
    for (source, target), expected in cases.items():
        rule = _violation(Import(source, target, "x.py:1", False))
        assert (rule is None) if expected is None else (rule or "").startswith(expected), (
            source,
            target,
            rule,
        )


def test_import_compilers_is_cheap():
    code = (
        "import sys, compilers, sortnet; "
        "heavy = ('sortnet.draw', 'sortnet.circuit', 'sortnet.nn.executor', "
        "'sortnet.nn.kernels', 'sortnet._jit', 'sortnet.bench', 'sortnet.cli', 'numba', "
        "'graphviz', 'onnx', 'dask'); "
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_every_named_module_exists():
    missing = sorted(path for path in NAMED if not (ROOT / path).exists())
    assert missing == []


def test_every_module_is_named():
    modules = [
        path.relative_to(ROOT).as_posix()
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "__pycache__" not in path.parts
    ]
    unnamed = []
    for module in modules:
        folders = {module.rsplit("/", depth)[0] + "/" for depth in range(1, module.count("/"))}
        covered = module in NAMED or bool(folders & NAMED)
        # Package roots of the two top-level packages need no line of their own.
        if not covered and module not in {
            "sortnet/__init__.py",
            "sortnet/__main__.py",
            "compilers/__init__.py",
        }:
            unnamed.append(module)
    assert unnamed == []

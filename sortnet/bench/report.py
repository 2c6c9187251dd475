"""Benchmark output: a text table, JSON, CSV and a rows-per-second plot."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

from sortnet.bench.runner import COLUMNS
from sortnet.errors import SortnetError

PLOT_SUFFIXES = (".png", ".svg", ".pdf")
REFS = ("np.sort", "np.copyto", "torch.sort")


def _clean(value: Any) -> Any:
    """JSON has no inf/nan: write them as strings a reader can still parse with float()."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def to_json(report: dict[str, Any]) -> str:
    """The report as JSON (machine, config, results with :data:`COLUMNS`).

    Examples
    --------
    >>> to_json({"results": [{"max_abs_error": float("inf")}]})
    '{\\n  "results": [\\n    {\\n      "max_abs_error": "inf"\\n    }\\n  ]\\n}'
    """
    cleaned = dict(report)
    cleaned["results"] = [{key: _clean(v) for key, v in row.items()} for row in report["results"]]
    return json.dumps(cleaned, indent=2, default=str)


def to_csv(report: dict[str, Any]) -> str:
    """The results as CSV with the :data:`COLUMNS` header.

    Examples
    --------
    >>> to_csv({"results": []}).split(",")[:3]
    ['network', 'kind', 'n']
    """
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer, fieldnames=list(COLUMNS), extrasaction="ignore", lineterminator="\n"
    )
    writer.writeheader()
    for row in report["results"]:
        writer.writerow(row)
    return buffer.getvalue()


def to_markdown(report: dict[str, Any]) -> str:
    """A Markdown table: one line per network and n, median ms and ratio per executor.

    Examples
    --------
    >>> rows = [{"network": "np.sort", "n": 8, "executor": "np.sort", "median_s": 0.04,
    ...          "ratio_vs_np_sort": 1.0, "exact": True},
    ...         {"network": "best", "n": 8, "executor": "circuit", "median_s": 0.01,
    ...          "ratio_vs_np_sort": 4.0, "exact": True, "size": 19, "depth": 6}]
    >>> print(to_markdown({"results": rows}))
    | network | n | size / depth | np.sort ms | circuit ms (vs np.sort) |
    | --- | ---: | ---: | ---: | ---: |
    | best | 8 | 19 / 6 | 40.0 | 10.0 (**4.00x**) |
    """
    rows = report["results"]
    cold = bool((report.get("config") or {}).get("cold"))
    executors = [e for e in dict.fromkeys(r["executor"] for r in rows) if e != "np.sort"]
    base = {r["n"]: r["median_s"] for r in rows if r["executor"] == "np.sort"}
    copy = {r["n"]: r["median_s"] for r in rows if r["executor"] == "np.copyto"}
    executors = [e for e in executors if e != "np.copyto"]
    # The dask engine's "generate" row times making the batch: a column, not a case.
    cases = dict.fromkeys(
        (r["network"], r["n"]) for r in rows if r["executor"] not in (*REFS, "generate")
    )
    cells = {(r["network"], r["n"], r["executor"]): r for r in rows}
    head = (
        ["network", "n", "size / depth", "np.sort ms"]
        + (["copy ms"] if copy else [])
        + [f"{e} ms" if e == "generate" else f"{e} ms (vs np.sort)" for e in executors]
    )
    lines = ["| " + " | ".join(head) + " |", "| --- |" + " ---: |" * (len(head) - 1)]
    for network, n in cases:
        first = next(r for r in rows if r["network"] == network and r["n"] == n)
        line = [
            network,
            str(n),
            f"{first.get('size')} / {first.get('depth')}",
            f"{base.get(n, float('nan')) * 1e3:.1f}",
        ] + ([f"{copy.get(n, float('nan')) * 1e3:.1f}"] if copy else [])
        for executor in executors:
            row = cells.get((network, n, executor)) or cells.get((executor, n, executor))
            if row is None:
                line.append("-")
                continue
            ratio = row.get("ratio_vs_np_sort")  # None: a row with no np.sort to compare
            if ratio is None:
                cell = f"{row['median_s'] * 1e3:.1f}"
            else:
                mark = f"**{ratio:.2f}x**" if ratio >= 1 else f"{ratio:.2f}x"
                cell = f"{row['median_s'] * 1e3:.1f} ({mark})"
            cell += "" if row.get("exact", True) else " ~"
            if cold and row.get("first_call_s") is not None:
                cell += f" [1st {row['first_call_s']:.2f} s"
                if row.get("ready_s"):  # a faster kernel compiled in the background
                    cell += f", +{row['ready_s']:.1f} s"
                cell += "]"
            line.append(cell)
        lines.append("| " + " | ".join(line) + " |")
    return "\n".join(lines)


def format_row(row: dict[str, Any]) -> str:
    """One aligned line of the text table.

    Examples
    --------
    >>> row = {"network": "np.sort", "n": 8, "executor": "np.sort", "median_s": 0.04,
    ...        "min_s": 0.039, "rows_per_s": 2.5e7, "ratio_vs_np_sort": 1.0,
    ...        "max_abs_error": 0.0, "peak_mb": 30.5, "setup_s": 0.0}
    >>> format_row(row).split()
    ['np.sort', '8', 'np.sort', '40.00', '39.00', '2.50e+07', '1.00x', '0', '30.5', '0.0', '-']
    """
    ratio = row.get("ratio_vs_np_sort")
    error = row["max_abs_error"]
    first = "-" if row.get("first_call_s") is None else f"{row['first_call_s']:.3f}"
    if row.get("ready_s"):  # then a faster kernel was compiling in the background
        first += f"+{row['ready_s']:.1f}"
    backward = row.get("vjp_over_forward")  # the vjp executor: its time over the forward's
    tail = "" if backward is None else f"  vjp/forward {backward:.2f}x"
    return (
        f"{row['network'][:24]:<24} {row['n']:>4} {row['executor']:<12} "
        f"{row['median_s'] * 1e3:>10.2f} {row['min_s'] * 1e3:>10.2f} {row['rows_per_s']:>10.2e} "
        f"{'' if ratio is None else f'{ratio:.2f}x':>8} {error:>9.3g} "
        f"{row['peak_mb']:>8} {row['setup_s']:>7.1f} {first:>8}{tail}"
    )


def table_header() -> str:
    """The header line of the text table."""
    return (
        f"{'network':<24} {'n':>4} {'executor':<12} {'median ms':>10} {'min ms':>10} "
        f"{'rows/s':>10} {'vs sort':>8} {'max err':>9} {'peak MB':>8} {'setup s':>7} "
        f"{'1st call':>8}"
    )


def machine_line(machine: dict[str, Any]) -> str:
    """A one-line summary of the machine for the table's footer."""
    versions = machine.get("versions", {})
    blas = (machine.get("blas") or {}).get("numpy_blas") or {}
    return (
        f"machine: {machine.get('cpu')}, {machine.get('cores')} cores, "
        f"load {machine.get('load_average')} -> {machine.get('load_average_after')}; "
        f"numpy {versions.get('numpy')} (BLAS {blas.get('name')} {blas.get('version')}), "
        f"numba {versions.get('numba', '-')}, onnxruntime {versions.get('onnxruntime', '-')}"
    )


def write_text(path: str, text: str) -> None:
    """Write ``text`` to ``path`` (``-`` is stdout)."""
    if path == "-":
        print(text, end="" if text.endswith("\n") else "\n")
    else:
        Path(path).write_text(text)


def plot(report: dict[str, Any], path: str) -> None:
    """Rows per second against n for each executor and network (log scales).

    ``np.sort`` is drawn as the black reference line; colour is the executor,
    marker and line style the network. The format follows the suffix.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in PLOT_SUFFIXES:
        raise SortnetError(f"--plot needs a {', '.join(PLOT_SUFFIXES)} file, got {path!r}")
    try:
        import matplotlib
    except ImportError:
        raise SortnetError("--plot needs matplotlib (pip install 'sortnet[bench]')") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if suffix == ".svg":
        matplotlib.rcParams["svg.hashsalt"] = "sortnet"  # stable ids: reproducible files
    rows = report["results"]
    series: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for row in rows:
        series.setdefault((row["executor"], row["network"]), []).append(
            (row["n"], row["rows_per_s"])
        )
    colours = {
        "np.sort": "black",
        "torch.sort": "grey",
        "circuit": "tab:blue",
        "argsort": "tab:purple",
        "neural": "tab:orange",
        "onnxruntime": "tab:green",
    }
    styles = ["-", "--", ":", "-."]
    markers = ["o", "s", "^", "D", "v", "P", "X", "*"]
    networks = sorted({network for _, network in series if network not in colours})
    figure, axes = plt.subplots(figsize=(8, 5))
    for (executor, network), points in sorted(series.items()):
        points.sort()
        index = networks.index(network) if network in networks else 0
        reference = executor in ("np.sort", "torch.sort")
        axes.plot(
            [n for n, _ in points],
            [value for _, value in points],
            color=colours.get(executor, "tab:red"),
            linestyle="-" if reference else styles[index % len(styles)],
            linewidth=2.5 if reference else 1.3,
            marker=None if reference else markers[index % len(markers)],
            label=executor if reference else f"{executor} / {network}",
        )
    axes.set_xscale("log", base=2)
    axes.set_yscale("log")
    sizes = sorted({row["n"] for row in rows})
    axes.set_xticks(sizes, [str(n) for n in sizes])
    axes.set_xlabel("n (values per row)")
    axes.set_ylabel("rows per second")
    first = rows[0] if rows else {}
    axes.set_title(f"sortnet bench: {first.get('rows', 0):,} {first.get('dtype', '')} rows")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=7, ncol=2)
    figure.tight_layout()
    metadata = {"Date": None} if suffix == ".svg" else {}
    figure.savefig(path, metadata=metadata)
    plt.close(figure)

"""``sortnet bench``: batch sorting benchmarks against ``np.sort``, measured in one run.

Networks (families, SorterHunter or other network files, the counting network for
small n) x n x executors (circuit, argsort, neural, onnxruntime when installed), each
on the same float32 batch as ``np.sort`` (and ``torch.sort`` when installed). Prints a table;
``--json``/``--csv`` write the results with machine details, ``--plot`` draws rows per
second against n. ``--engine dask`` sorts a lazily generated batch chunk by chunk.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sortnet.errors import SortnetError

DEFAULT_SIZES = [4, 8, 16, 32, 64]
QUICK_ROWS = 100_000
#: What ``--quick`` runs unless told otherwise: two families (the best-known networks and
#: Batcher's merge), no counting network, float32 at these n.
QUICK_FAMILIES = ["best", "odd-even-merge"]
DASK_ROWS = 100_000_000


def register(subparsers: Any) -> None:
    """Add the ``bench`` subcommand."""
    from sortnet.generators import FAMILIES

    parser = subparsers.add_parser(
        "bench",
        help="benchmark batch sorting (circuit, argsort, neural, onnxruntime) against np.sort",
        description="Time networks x n x executors against np.sort on the same data; "
        "ratios are np.sort time / executor time from the same run (above 1 = faster).",
    )
    parser.add_argument(
        "--family",
        nargs="+",
        metavar="FAMILY",
        help=f"network families (default: all of {', '.join(FAMILIES)}, unless --network "
        "is given; best with --engine dask); 'best' exists for n <= 64",
    )
    parser.add_argument(
        "--network",
        nargs="+",
        default=[],
        metavar="FILE",
        help="network files (e.g. SorterHunter Sort_32_185_14.json), run at their n",
    )
    parser.add_argument(
        "--counting-max-n",
        type=int,
        default=8,
        metavar="N",
        help="also run the counting network for n <= N (default 8; 0 = never)",
    )
    parser.add_argument(
        "--n",
        nargs="+",
        type=int,
        metavar="N",
        help="numbers of wires (default 4 8 16 32 64; 16 with --engine dask)",
    )
    parser.add_argument(
        "--executor",
        nargs="+",
        metavar="NAME",
        help="circuit, argsort, neural, onnxruntime, vjp (default: the first four installed; "
        "circuit with --engine dask); argsort is sortnet.argsort, checked against the stable "
        "np.argsort and timed against np.sort; vjp times model.vjp beside the forward pass "
        "(vjp / forward)",
    )
    parser.add_argument(
        "--rows",
        type=int,
        help="rows per batch (default 1000000; "
        f"{QUICK_ROWS} with --quick; {DASK_ROWS} with --engine dask)",
    )
    parser.add_argument(
        "--repeats", type=int, help="timed runs per case (default 5; 1 with --quick)"
    )
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs first (default 1)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"short run: {QUICK_ROWS} rows, 1 repeat, families {' and '.join(QUICK_FAMILIES)} "
        "and the counting network (no bubble, insertion, transposition, bitonic or pairwise) "
        "unless --family or --network is given",
    )
    parser.add_argument(
        "--cold",
        action="store_true",
        help="each case starts on a fresh, empty kernel cache and compiles nothing before "
        "its first call; the first call's time (compiles included) is reported apart",
    )
    parser.add_argument("--dtype", default="float32", help="batch dtype (default float32)")
    parser.add_argument("--lowering", default="relu", help="lowering for the neural executors")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the batch")
    parser.add_argument(
        "--budget",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="a case whose warm-up call takes longer is timed once (default 10)",
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory runs")
    parser.add_argument(
        "--json", metavar="PATH|-", help="write results and machine details as JSON"
    )
    parser.add_argument("--csv", metavar="PATH|-", help="write results as CSV")
    parser.add_argument(
        "--markdown", metavar="PATH|-", help="write a Markdown table (as in the README)"
    )
    parser.add_argument("--plot", metavar="OUT.png|svg", help="plot rows/s against n (matplotlib)")
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal)",
    )
    parser.add_argument(
        "--task",
        choices=TASKS,
        default="sort",
        help="sort: networks x n x executors against np.sort (default); topk: sortnet.topk "
        "against np.argpartition + argsort at 8 of 128 and other k of n (65536 rows; uses "
        "--rows, --repeats, --seed); filter: sortnet.rank_filter against "
        "scipy.ndimage.median_filter on a 1024 x 1024 float32 image, one thread (uses "
        "--repeats); both print a table with the load average and exit 1 if an output is "
        "not exact; --quick makes them small",
    )
    parser.add_argument(
        "--engine",
        choices=("memory", "dask"),
        default="memory",
        help="memory: batches in RAM (default); dask: lazily generated chunks",
    )
    parser.add_argument(
        "--chunk-rows", type=int, default=1 << 20, help="rows per dask chunk (default 1048576)"
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="dask.distributed scheduler address (default: local threads)",
    )
    parser.set_defaults(func=run)


#: What ``sortnet bench --task`` can time.
TASKS = ("sort", "topk", "filter")


def run_task(args: argparse.Namespace) -> int:
    """``--task topk`` or ``--task filter``: the selection workloads' own benchmarks.

    Examples
    --------
    >>> args = argparse.Namespace(task="topk", rows=0, repeats=None, seed=0, quick=True)
    >>> run_task(args)
    Traceback (most recent call last):
    ...
    sortnet.errors.SortnetError: --rows must be a positive integer, got 0
    """
    for name in ("rows", "repeats"):
        value = getattr(args, name, None)
        if value is not None and value < 1:
            raise SortnetError(f"--{name} must be a positive integer, got {value}")
    if args.seed is not None and args.seed < 0:
        raise SortnetError(f"--seed must be a non-negative integer, got {args.seed}")
    if args.task == "topk":
        from sortnet.bench import topk_task

        argv = ["--seed", str(args.seed)]
        if args.rows is not None:  # --quick keeps 65536 rows: fewer would skip the kernel
            argv += ["--rows", str(args.rows)]
        repeats = args.repeats or (3 if args.quick else None)
        if repeats is not None:
            argv += ["--repeats", str(repeats)]
        if args.quick:
            argv += ["--cases", "128:8"]
        return topk_task.main(argv)
    from sortnet.bench import filter_task

    argv = []
    repeats = args.repeats or (3 if args.quick else None)
    if repeats is not None:
        argv += ["--repeats", str(repeats)]
    if args.quick:
        argv += ["--side", "256", "--sizes", "3", "5"]
    return filter_task.main(argv)


def _config(args: argparse.Namespace) -> Any:
    from sortnet.bench import BenchConfig
    from sortnet.bench.executors import DEFAULT_EXECUTORS

    dask = args.engine == "dask"
    rows = (
        args.rows
        if args.rows is not None
        else (DASK_ROWS if dask else QUICK_ROWS if args.quick else 1_000_000)
    )
    repeats = (
        args.repeats if args.repeats is not None else (1 if args.quick else 5 if not dask else 1)
    )
    sizes = args.n or ([16] if dask else list(DEFAULT_SIZES))
    executors = args.executor or (["circuit"] if dask else list(DEFAULT_EXECUTORS))
    if args.chunk_rows < 1:
        raise SortnetError(f"--chunk-rows must be at least 1, got {args.chunk_rows}")
    if args.scheduler and not dask:
        raise SortnetError("--scheduler needs --engine dask")
    return BenchConfig(
        sizes=sizes,
        executors=executors,
        rows=rows,
        repeats=repeats,
        warmup=args.warmup,
        dtype=args.dtype,
        lowering=args.lowering,
        seed=args.seed,
        memory=not args.no_memory,
        budget_s=args.budget,
        cold=args.cold,
    )


def _network_source(args: argparse.Namespace, config: Any) -> Any:
    """``networks(n)``: the (label, network) pairs to run at n; adds file sizes to config."""
    import sortnet
    from sortnet.generators import FAMILIES

    files = [(Path(path).stem, sortnet.load_network(path)) for path in args.network]
    dask = args.engine == "dask"
    default = ["best"] if dask else list(QUICK_FAMILIES) if args.quick else list(FAMILIES)
    families = args.family if args.family is not None else ([] if files else default)
    unknown = [name for name in families if name not in FAMILIES]
    if unknown:
        raise SortnetError(f"unknown family {unknown[0]!r}; choose from {', '.join(FAMILIES)}")
    for _, net in files:
        if net.n not in config.sizes:
            config.sizes.append(net.n)
    config.sizes.sort()

    def networks(n: int) -> Iterator[tuple[str, Any]]:
        for family in families:
            try:
                yield family, sortnet.network(family, n)
            except SortnetError as error:  # e.g. no best-known network past 64 wires
                print(f"sortnet bench: skipping {family} n={n}: {error}", file=sys.stderr)
        yield from ((label, net) for label, net in files if net.n == n)
        counting = args.family is None and not files and not dask
        if n <= args.counting_max_n and counting:
            try:
                yield "counting", sortnet.counting_network(n)
            except SortnetError as error:  # past the counting network's limit of inputs
                print(f"sortnet bench: skipping counting n={n}: {error}", file=sys.stderr)

    return networks


def run(args: argparse.Namespace) -> int:
    """Run the benchmark and write its outputs; 1 if an executor was not exact."""
    if args.task != "sort":
        return run_task(args)
    from sortnet.bench import report, run_benchmark, run_dask_benchmark
    from sortnet.bench.executors import INDEX_EXECUTORS
    from sortnet.bench.runner import check_batch_memory
    from sortnet.progress import progress

    config = _config(args)
    config.validate()
    # Before any network is built or batch drawn: a typo in --n or --rows fails at once.
    if args.engine == "dask":
        check_batch_memory(args.chunk_rows, config.sizes, "float32", "--chunk-rows")
    else:
        indices = any(name in INDEX_EXECUTORS for name in config.executors)
        check_batch_memory(config.rows, config.sizes, config.dtype, indices=indices)
    networks = _network_source(args, config)
    if args.plot and Path(args.plot).suffix.lower() not in report.PLOT_SUFFIXES:
        raise SortnetError(f"--plot needs a .png, .svg or .pdf file, got {args.plot!r}")
    with progress(None, desc="bench", unit="case", enabled=args.progress) as bar:

        def seen(row: dict[str, Any]) -> None:
            bar.update(1)

        if args.engine == "dask":
            result = run_dask_benchmark(
                config,
                networks,
                chunk_rows=args.chunk_rows,
                scheduler=args.scheduler,
                on_result=seen,
            )
        else:
            result = run_benchmark(config, networks, on_result=seen)
    if args.json:
        report.write_text(args.json, report.to_json(result))
    if args.csv:
        report.write_text(args.csv, report.to_csv(result))
    if args.markdown:
        report.write_text(args.markdown, report.to_markdown(result) + "\n")
    if args.plot:
        report.plot(result, args.plot)
    if "-" not in (args.json, args.csv, args.markdown):
        lines = [report.table_header()] + [report.format_row(row) for row in result["results"]]
        lines.append(report.machine_line(result["machine"]))
        lines.append(
            "vs sort = np.sort median time / executor median time, same run, same data; "
            f"peak MB by {result['results'][0]['memory_method'] if result['results'] else '-'}"
        )
        print("\n".join(lines))
    exact_ones = ("circuit", "argsort")  # exact on any float; models round past 2^(p-2)
    wrong = [r for r in result["results"] if not r["exact"] and r["executor"] in exact_ones]
    return 1 if wrong else 0

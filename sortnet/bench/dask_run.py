"""``sortnet bench --engine dask``: sort a batch that is generated chunk by chunk.

The batch (default 10**8 rows of uniform float32; ``--dtype float64`` also works) never
exists in memory at once:
``dask.array.random`` generates each chunk inside the task that sorts it, and each task reduces its
sorted chunk to a count of out-of-order neighbours (0 when sorted), so only counts
travel back.
Three graphs run on the same lazily generated data: generation alone (the floor),
``np.sort`` per chunk, and each network executor per chunk. Times include
generation; the table also shows them with the generation time subtracted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from sortnet.bench.machine import machine_info, peak_memory
from sortnet.bench.runner import BenchConfig
from sortnet.errors import SortnetError
from sortnet.network import Network


def _disorder(block: np.ndarray) -> np.ndarray:
    """How many neighbouring pairs of the block's rows are out of order (1-element array).

    A flat ``count_nonzero`` is much faster than a per-row ``all(axis=1)`` on short rows.
    """
    return np.array([np.count_nonzero(block[:, 1:] < block[:, :-1])])


def _count(Y: Any) -> Any:
    return Y.map_blocks(
        _disorder, chunks=((1,) * Y.numblocks[0],), drop_axis=1, dtype=np.int64
    ).sum()


#: Seconds to wait for a ``--scheduler`` to answer before giving up.
CONNECT_TIMEOUT_S = 10
#: The dtypes ``dask.array.random`` generates.
DASK_DTYPES = ("float32", "float64")


@dataclass(frozen=True)
class _Case:
    """One timed graph: a label, the executor's name, and how it maps a lazy batch."""

    label: str
    executor: str
    build: Callable[[Any], Any]
    net: Network | None = None
    note: str = ""


@dataclass
class _Timing:
    """What the timed runs of one case measured."""

    times: list[float]
    disorder: int
    peak_mb: float = float("nan")
    memory_method: str = "off"


def scheduler_options(address: str | None) -> tuple[dict[str, Any], Any]:
    """``compute`` keyword arguments for local threads or a distributed scheduler, and the client.

    Examples
    --------
    >>> scheduler_options(None)
    ({'scheduler': 'threads'}, None)
    >>> scheduler_options("nonsense://nowhere")
    Traceback (most recent call last):
    ...
    sortnet.errors.SortnetError: cannot connect to the dask scheduler at 'nonsense://nowhere': ...
    """
    if address is None:
        return {"scheduler": "threads"}, None
    try:
        from dask.distributed import Client
    except ImportError:
        raise SortnetError("--scheduler needs dask.distributed (pip install distributed)") from None
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT_S)
    except (OSError, ValueError, TimeoutError) as error:  # refused, timed out, bad scheme
        raise SortnetError(
            f"cannot connect to the dask scheduler at {address!r}: {error}"
        ) from None
    return {"scheduler": client}, client


def _lazy_batch(config: BenchConfig, n: int, chunk_rows: int) -> Any:
    """The benchmark batch for ``n`` wires: uniform values, generated inside each task."""
    import dask.array as da

    return da.random.default_rng(config.seed + n).random(
        (config.rows, n), chunks=(chunk_rows, n), dtype=np.dtype(config.dtype)
    )


def _time(graph: Any, options: dict[str, Any], config: BenchConfig, memory: bool) -> _Timing:
    """Compute ``graph`` ``warmup`` times untimed, then ``repeats`` times timed.

    With ``memory``, the last timed run also measures the peak memory.
    """
    import dask

    times: list[float] = []
    counts: list[int] = []

    def once() -> None:
        start = time.perf_counter()
        (count,) = dask.compute(graph, **options)
        times.append(time.perf_counter() - start)
        counts.append(int(count))

    for _ in range(config.warmup):
        once()
    del times[:]
    for _ in range(config.repeats - 1 if memory else config.repeats):
        once()
    peak_mb, method = peak_memory(once) if memory else (float("nan"), "off")
    return _Timing(times, counts[-1], peak_mb, method)


def _first_chunk_exact(case: _Case, X: Any, chunk_rows: int, options: dict[str, Any]) -> bool:
    """Whether the case's output on the first chunk equals ``np.sort``, value for value.

    Both sides are computed where the tasks run, so only one boolean travels back
    (a 1M-row chunk would otherwise go to the client and back into the graph).
    """
    import dask

    if case.executor == "generate":  # nothing sorted to compare
        return True
    first = X[:chunk_rows]
    expected = first.map_blocks(np.sort, axis=1, dtype=first.dtype)
    (equal,) = dask.compute((case.build(first) == expected).all(), **options)
    return bool(equal)


def _row(
    case: _Case,
    n: int,
    config: BenchConfig,
    timing: _Timing,
    exact: bool,
    base: float | None,
    floor: float | None,
) -> dict[str, Any]:
    """The report row of one case (the columns of the memory engine's rows)."""
    median = float(np.median(timing.times))
    net = case.net
    in_order = case.executor == "generate" or timing.disorder == 0
    note = case.note + (f"; minus generation {median - floor:.3f} s" if floor else "")
    return {
        "network": case.label,
        "kind": None if net is None else net.kind,
        "n": n,
        "size": None if net is None else net.size,
        "depth": None if net is None else net.depth,
        "executor": case.executor,
        "rows": config.rows,
        "dtype": str(np.dtype(config.dtype)),
        "median_s": median,
        "min_s": min(timing.times),
        "rows_per_s": config.rows / median,
        "ratio_vs_np_sort": None if base is None else base / median,
        "max_abs_error": 0.0 if exact else float("inf"),
        "exact": exact and in_order,
        "peak_mb": round(timing.peak_mb, 1),
        "input_mb": 0.0,
        "output_mb": 0.0,
        "memory_method": timing.memory_method,
        "setup_s": 0.0,
        "first_call_s": None,
        "repeats": config.repeats,
        "note": note,
        "vjp_over_forward": None,  # set for the vjp executor (sortnet.bench.runner)
    }


def _cases(n: int, networks: Any, config: BenchConfig) -> list[_Case]:
    """The graphs to time at ``n``: generation alone, ``np.sort``, then each executor."""
    cases = [
        _Case("generate", "generate", lambda X: X, note="dask.array.random only"),
        _Case("np.sort", "np.sort", lambda X: X.map_blocks(np.sort, axis=1, dtype=X.dtype)),
    ]
    for label, net in networks(n):
        for executor in config.executors:
            if executor in ("onnxruntime", "vjp", "argsort") or (
                executor == "circuit" and net.kind != "comparator"
            ):
                continue  # onnxruntime, vjp and argsort have no dask engine here
            cases.append(_Case(label, executor, _builder(executor, net, config), net))
    return cases


def run_dask_benchmark(
    config: BenchConfig,
    networks: Any,
    *,
    chunk_rows: int = 1 << 20,
    scheduler: str | None = None,
    on_result: Any = None,
) -> dict[str, Any]:
    """Time the dask engine on ``config.rows`` lazily generated rows per n.

    Parameters
    ----------
    config : BenchConfig
        Sizes, executors, rows, repeats, warm-up runs, dtype (float32 or float64), seed.
    networks : callable
        ``networks(n)`` yields ``(label, network)`` pairs.
    chunk_rows : int
        Rows per dask chunk (one task each).
    scheduler : str, optional
        A ``dask.distributed`` scheduler address (default: the local threaded scheduler).
    on_result : callable, optional
        Called with each result row as soon as it is measured.

    Returns
    -------
    dict
        ``machine``, ``config`` and ``results`` (one row per case), as the memory engine.

    Examples
    --------
    >>> import sortnet
    >>> config = BenchConfig(sizes=[4], executors=["circuit"], rows=1000, repeats=1,
    ...                      warmup=0, memory=False)
    >>> report = run_dask_benchmark(config, lambda n: [("bubble", sortnet.network("bubble", n))],
    ...                             chunk_rows=300)
    >>> [(r["executor"], r["exact"]) for r in report["results"]]
    [('generate', True), ('np.sort', True), ('circuit', True)]
    """
    config.validate()
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise SortnetError(f"--chunk-rows must be at least 1, got {chunk_rows!r}")
    if str(np.dtype(config.dtype)) not in DASK_DTYPES:
        raise SortnetError(
            f"--engine dask generates float32 or float64, got --dtype {config.dtype}"
        )
    options, client = scheduler_options(scheduler)
    # Memory is measured in this process: only meaningful when the tasks run here.
    memory = config.memory and client is None
    machine = machine_info()
    results: list[dict[str, Any]] = []
    started = time.time()
    try:
        for n in config.sizes:
            X = _lazy_batch(config, n, chunk_rows)
            floor: float | None = None
            base: float | None = None
            for case in _cases(n, networks, config):
                timing = _time(_count(case.build(X)), options, config, memory)
                exact = _first_chunk_exact(case, X, chunk_rows, options)
                row = _row(case, n, config, timing, exact, base, floor)
                if case.executor == "generate":
                    floor = row["median_s"]
                elif case.executor == "np.sort":
                    base = row["median_s"]
                    row["ratio_vs_np_sort"] = 1.0
                results.append(row)
                if on_result is not None:
                    on_result(row)
    finally:
        if client is not None:
            client.close()
    settings = dict(
        vars(config), engine="dask", chunk_rows=chunk_rows, scheduler=scheduler or "threads"
    )
    settings["elapsed_s"] = round(time.time() - started, 1)
    machine["load_average_after"] = machine_info()["load_average"]
    return {"machine": machine, "config": settings, "results": results}


def _builder(executor: str, net: Network, config: BenchConfig) -> Callable[[Any], Any]:
    """``X -> lazy output`` for one executor on ``net``."""
    import sortnet

    if executor == "circuit":
        from sortnet.circuit import kernels

        if kernels.choose_backend() != "numpy":
            # Compile here before timing (a cluster's workers compile in the warm-up).
            kernels.get_kernel(net, np.dtype(config.dtype), parallel=False)
        return lambda X: sortnet.sort(X, net)
    import compilers

    model = compilers.compile(net, lowering=config.lowering if net.kind == "comparator" else None)
    return lambda X: model(X)

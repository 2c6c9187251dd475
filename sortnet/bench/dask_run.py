"""``sortnet bench --engine dask``: sort a batch that is generated chunk by chunk.

The batch (default 10**8 rows of uniform float32) never exists in memory at once:
``dask.array.random`` generates each chunk inside the task that sorts it, and each task reduces its
sorted chunk to a count of out-of-order neighbours (0 when sorted), so only counts
travel back.
Three graphs run on the same lazily generated data: generation alone (the floor),
``np.sort`` per chunk, and each network executor per chunk. Times include
generation; the table also shows them with the generation time subtracted.
"""

from __future__ import annotations

import time
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


def scheduler_options(address: str | None) -> tuple[dict[str, Any], Any]:
    """``compute`` keyword arguments for the local threads or a distributed scheduler."""
    if address is None:
        return {"scheduler": "threads"}, None
    try:
        from dask.distributed import Client
    except ImportError:
        raise SortnetError("--scheduler needs dask.distributed (pip install distributed)") from None
    client = Client(address)
    return {}, client


def run_dask_benchmark(
    config: BenchConfig,
    networks: Any,
    *,
    chunk_rows: int = 1 << 20,
    scheduler: str | None = None,
    on_result: Any = None,
) -> dict[str, Any]:
    """Time the dask engine on ``config.rows`` lazily generated rows per n.

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
    import dask
    import dask.array as da

    config.validate()
    options, client = scheduler_options(scheduler)
    machine = machine_info()
    results: list[dict[str, Any]] = []
    started = time.time()

    def timed(
        label: str,
        net: Network | None,
        executor: str,
        build: Any,
        base: float | None,
        floor: float | None,
        note: str = "",
    ) -> dict[str, Any]:
        X = da.random.default_rng(config.seed + n).random(
            (config.rows, n), chunks=(chunk_rows, n), dtype=np.float32
        )
        graph = _count(build(X))
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
        peak, method = (float("nan"), "off")
        for index in range(config.repeats):
            if index == config.repeats - 1 and config.memory and client is None:
                # The last timed run also measures memory (local scheduler only).
                peak, method = peak_memory(once)
            else:
                once()
        count = counts[-1]
        median = float(np.median(times))
        first = X[:chunk_rows].compute()
        exact = (
            bool(
                np.array_equal(
                    build(da.from_array(first))[:chunk_rows].compute(), np.sort(first, axis=1)
                )
            )
            if executor != "generate"
            else True
        )
        row = {
            "network": label,
            "kind": None if net is None else net.kind,
            "n": n,
            "size": None if net is None else net.size,
            "depth": None if net is None else net.depth,
            "executor": executor,
            "rows": config.rows,
            "dtype": "float32",
            "median_s": median,
            "min_s": min(times),
            "rows_per_s": config.rows / median,
            "ratio_vs_np_sort": None if base is None else base / median,
            "max_abs_error": 0.0 if exact else float("inf"),
            "exact": exact and (executor == "generate" or int(count) == 0),
            "peak_mb": round(peak, 1),
            "input_mb": 0.0,
            "output_mb": 0.0,
            "memory_method": method,
            "setup_s": 0.0,
            "repeats": config.repeats,
            "note": note + (f"; minus generation {median - floor:.3f} s" if floor else ""),
        }
        results.append(row)
        if on_result is not None:
            on_result(row)
        return row

    try:
        for n in config.sizes:
            floor = timed(
                "generate", None, "generate", lambda X: X, None, None, note="dask.array.random only"
            )["median_s"]
            base = timed(
                "np.sort",
                None,
                "np.sort",
                lambda X: X.map_blocks(np.sort, axis=1, dtype=X.dtype),
                None,
                floor,
            )
            base["ratio_vs_np_sort"] = 1.0
            for label, net in networks(n):
                for executor in config.executors:
                    if executor == "onnxruntime" or (
                        executor == "circuit" and net.kind != "comparator"
                    ):
                        continue  # onnxruntime has no dask engine here
                    build = _builder(executor, net, config)
                    timed(label, net, executor, build, base["median_s"], floor)
    finally:
        if client is not None:
            client.close()
    settings = dict(
        vars(config), engine="dask", chunk_rows=chunk_rows, scheduler=scheduler or "threads"
    )
    settings["elapsed_s"] = round(time.time() - started, 1)
    machine["load_average_after"] = machine_info()["load_average"]
    return {"machine": machine, "config": settings, "results": results}


def _builder(executor: str, net: Network, config: BenchConfig) -> Any:
    import sortnet

    if executor == "circuit":
        from sortnet.circuit import kernels

        if kernels.choose_backend() != "numpy":
            kernels.get_kernel(net, np.float32, parallel=False)  # compile before timing
        return lambda X: sortnet.sort(X, net)
    import compilers

    model = compilers.compile(net, lowering=config.lowering if net.kind == "comparator" else None)
    return lambda X: model(X)

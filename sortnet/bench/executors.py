"""The executors a benchmark compares, each prepared once and then called on a batch.

An executor is set up from a network (compiling whatever it needs, timed apart
from the runs) and returns a function ``X -> sorted X`` (``argsort``: ``X -> the
indices that sort X``, ``sortnet.argsort``). References (``np.sort``, ``torch.sort``)
need no network.
"""

from __future__ import annotations

import importlib.util
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sortnet.errors import SortnetError
from sortnet.network import Network

Runner = Callable[[np.ndarray], np.ndarray]

#: Executors that run a network, in table order.
NETWORK_EXECUTORS = ("circuit", "argsort", "neural", "onnxruntime", "vjp")
#: Those a plain ``sortnet bench`` runs: ``vjp`` (the numba reverse pass, timed with
#: its forward pass side by side) is asked for by name, so default runs stay as long.
DEFAULT_EXECUTORS = ("circuit", "argsort", "neural", "onnxruntime")
#: Executors whose output is indices (``intp``), checked against the stable argsort.
INDEX_EXECUTORS = ("argsort",)
#: Bytes of input per onnxruntime call (the batch is streamed in chunks of this size).
ONNX_CHUNK_BYTES = 1 << 22
#: References measured once per n on the same data: ``np.copyto`` (a copy of the batch
#: into a new array, the memory-bandwidth floor of any executor) is not a sort.
REFERENCES = ("np.sort", "np.copyto", "torch.sort")


@dataclass
class Prepared:
    """A ready executor: its function, the setup it took, and notes."""

    run: Runner
    setup_s: float = 0.0
    note: str = ""
    #: ``vjp``: the forward pass of the same model, timed beside it (``vjp / forward``).
    forward: Runner | None = None


def available(name: str) -> bool:
    """Whether an executor or reference can run here (its optional package is installed).

    Examples
    --------
    >>> available("np.sort"), available("circuit")
    (True, True)
    """
    needs = {"onnxruntime": ("onnxruntime", "onnx"), "torch.sort": ("torch",), "neural": ()}
    return all(importlib.util.find_spec(module) is not None for module in needs.get(name, ()))


def check_executors(names: list[str]) -> None:
    """Refuse unknown executor names with the list of known ones.

    Examples
    --------
    >>> check_executors(["circuit", "gpu"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    sortnet.errors.SortnetError: unknown executor ...; choose from circuit, argsort, neural, ...
    """
    for name in names:
        if name not in NETWORK_EXECUTORS:
            raise SortnetError(
                f"unknown executor {name!r}; choose from {', '.join(NETWORK_EXECUTORS)}"
            )


def reference(name: str) -> Runner:
    """The reference sort ``name`` (``"np.sort"`` or ``"torch.sort"``) as a function.

    Examples
    --------
    >>> reference("np.sort")(np.array([[2, 1]]))
    array([[1, 2]])
    """
    if name == "np.sort":
        return lambda X: np.sort(X, axis=1)
    if name == "np.copyto":
        return _copy
    if name == "torch.sort":
        import torch

        return lambda X: torch.sort(torch.from_numpy(X), dim=1).values.numpy()
    raise SortnetError(f"unknown reference {name!r}")


def _copy(X: np.ndarray) -> np.ndarray:
    out = np.empty_like(X)
    np.copyto(out, X)
    return out


def prepare(
    name: str,
    net: Network,
    *,
    lowering: str | None,
    workdir: Path | None = None,
    precompile: bool = True,
) -> Prepared:
    """Set up executor ``name`` for ``net``; the returned ``setup_s`` is the compile time.

    ``circuit`` with ``precompile`` compiles the kernels the default call runs (or
    loads them from the disk cache), so set-up is not counted as a run; without it
    (``sortnet bench --cold``) the first call pays for whatever it compiles.
    ``argsort`` is ``sortnet.argsort`` with default settings, prepared the same way.
    ``neural`` compiles the network to a model with :func:`compilers.compile`;
    ``onnxruntime`` exports that model and opens a session. ``vjp`` times
    ``model.vjp(X, dY)`` on the same model with ``dY = np.sort(X)`` (drawn on the
    first call of a batch, a warm-up call), so that ``dX = J.T dY = X``; its
    ``forward`` is ``model(X)``.

    Examples
    --------
    >>> import sortnet
    >>> ready = prepare("neural", sortnet.network("bubble", 3), lowering="relu")
    >>> ready.run(np.array([[3.0, 1.0, 2.0]], np.float32))
    array([[1., 2., 3.]], dtype=float32)
    """
    import time

    start = time.perf_counter()
    if name == "circuit":
        prepared = _prepare_circuit(net, precompile)
    elif name == "argsort":
        prepared = _prepare_circuit(net, precompile, kind="argsort")
    elif name == "vjp":
        prepared = _prepare_vjp(net, lowering, precompile)
    elif name in ("neural", "onnxruntime"):
        import compilers

        model = compilers.compile(net, lowering=lowering if net.kind == "comparator" else None)
        note = f"{model.lowering}, {model.depth} layers"
        if name == "neural" and precompile:
            note += _precompile_model(model)
        prepared = Prepared(lambda X: model(X), note=note)
        if name == "onnxruntime":
            prepared = _prepare_onnx(model, workdir)
    else:
        check_executors([name])
    prepared.setup_s = time.perf_counter() - start
    return prepared


def _prepare_circuit(net: Network, precompile: bool, kind: str = "sort") -> Prepared:
    """``sortnet.sort`` (executor ``circuit``) or ``sortnet.argsort`` (``argsort``)."""
    import sortnet
    from sortnet.circuit import kernels

    executor = "circuit" if kind == "sort" else kind
    if net.kind != "comparator":
        raise SortnetError(f"the {executor} executor runs comparator networks only")
    function = sortnet.sort if kind == "sort" else sortnet.argsort
    if kernels.choose_backend() == "numpy":
        return Prepared(lambda X: function(X, net), note="numpy columns")
    if precompile:
        # Compile now so that the compile time is reported as setup, not as a run.
        kernels.warm_up(net, np.float32, kind=kind)
    note = kernels.describe(net, np.float32, kind=kind)
    return Prepared(lambda X: function(X, net), note=note)


def _precompile_model(model: Any) -> str:
    """Compile (or load) the kernel a large batch runs ``model`` on; its description."""
    from sortnet.nn import kernels, native

    if kernels.choose_engine() == "numpy":
        return ", numpy engine"
    if native.runs(model, np.float32) and model.n <= native.NATIVE_FIRST_MAX_N:
        return ", precompiled C kernel"  # nothing to compile, and nothing faster to compile
    if kernels.compilable(model):
        kernels.get_kernel(model, np.float32)
        return ", numba straight-line kernel"
    if native.runs(model, np.float32):
        return ", precompiled C kernel"
    kernels.generic_function(np.float32)
    return ", numba generic kernel"


def _prepare_vjp(net: Network, lowering: str | None, precompile: bool) -> Prepared:
    import compilers

    model = compilers.compile(net, lowering=lowering if net.kind == "comparator" else None)
    note = f"{model.lowering}, model.vjp(X, np.sort(X))"
    if precompile:
        note += _precompile_model(model)
        from sortnet.nn import kernels, vjp_numba

        if kernels.choose_engine() != "numpy":
            vjp_numba.vjp_function(np.float32)
            if kernels.compilable(model):
                from sortnet.nn.vjp_codegen import get_vjp_kernel

                get_vjp_kernel(model, np.float32)
                note += ", numba straight-line vjp kernel"
    upstream: dict[int, np.ndarray] = {}

    def run(X: np.ndarray) -> np.ndarray:
        if id(X) not in upstream:  # one batch per n: keep its dY only
            upstream.clear()
            upstream[id(X)] = np.sort(X, axis=1)
        return model.vjp(X, upstream[id(X)])

    return Prepared(run, note=note, forward=lambda X: model(X))


def _prepare_onnx(model: Any, workdir: Path | None) -> Prepared:
    import onnxruntime

    folder = Path(workdir or tempfile.mkdtemp(prefix="sortnet-bench-"))
    path = folder / f"model_{id(model)}.onnx"
    model.to_onnx(path)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    width = model.n_outputs
    chunk_rows = max(1024, ONNX_CHUNK_BYTES // (4 * max(model.n, width)))

    def run(X: np.ndarray) -> np.ndarray:
        # Stream row chunks into one preallocated result: onnxruntime's arena then
        # holds one chunk's intermediates, not the whole batch's.
        out = np.empty((X.shape[0], width), np.float32)
        for start in range(0, X.shape[0], chunk_rows):
            chunk = np.ascontiguousarray(X[start : start + chunk_rows], dtype=np.float32)
            out[start : start + chunk_rows] = session.run(["y"], {"x": chunk})[0]
        return out

    threads = session.get_session_options().intra_op_num_threads
    return Prepared(
        run, note=f"CPU, intra_op_num_threads={threads or 'default'}, {chunk_rows} rows/chunk"
    )

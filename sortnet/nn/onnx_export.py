"""Export a :class:`~sortnet.nn.model.CompiledModel` to ONNX (opset 17).

The graph takes ``x`` (float32, ``[batch, n]``) and returns ``y`` (float32,
``[batch, n]``, or ``[batch, 1]`` for a k-th-smallest model). Each layer is a
``MatMul`` with ``W.T`` (plus ``Add`` for a non-zero bias), its activation
groups (``Split`` when there is more than one, one node per activation from
the registry in :mod:`sortnet.nn.activations`, ``Concat``), and for a residual
block ``MatMul`` by the skip and output weights and an ``Add``. Weights are
stored dense, since ONNX ``MatMul`` takes dense tensors, so a model whose dense
weights would pass :data:`MAX_ONNX_BYTES` is refused before any work (the ``.npz``
model file stores them sparse). Needs the optional ``onnx`` package
(``pip install 'sortnet[onnx]'``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sortnet.errors import TooMuchWorkError
from sortnet.io.atomic import atomic_write, check_target
from sortnet.nn.activations import ACTIVATIONS
from sortnet.nn.layer import Matrix, nonzeros, to_dense

if TYPE_CHECKING:
    from sortnet.nn.model import CompiledModel

OPSET = 17
#: Most bytes of dense float32 weights and biases an export holds. A protobuf
#: message (the whole ONNX file) cannot pass 2 GiB, and building, checking and
#: serializing it holds about three copies, so half of that is the limit.
MAX_ONNX_BYTES = 1 << 30


def _require_onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise ImportError(
            "ONNX export needs the 'onnx' package: pip install 'sortnet[onnx]'"
        ) from None
    return onnx


def _identity(matrix: Matrix) -> bool:
    rows, cols = matrix.shape
    if rows != cols:
        return False
    if isinstance(matrix, np.ndarray):
        return bool(np.array_equal(matrix, np.eye(rows)))
    # Sparse: n non-zeros, all on the diagonal and all 1 (no dense n x n copy).
    return nonzeros(matrix) == rows and bool(np.all(matrix.diagonal() == 1))


def onnx_bytes(model: CompiledModel) -> int:
    """Bytes of the dense float32 weights and biases the ONNX export of ``model`` holds.

    Examples
    --------
    >>> import compilers, sortnet
    >>> onnx_bytes(compilers.compile(sortnet.network("bubble", 2), "abs"))  # 2x2 W, 2x2 out
    32
    """
    total = 0
    for layer in model.layers:
        matrices = [layer.weight]
        if layer.out_weight is not None and layer.skip is not None:
            matrices.append(layer.out_weight)
            if not _identity(layer.skip):
                matrices.append(layer.skip)
        total += sum(rows * cols for rows, cols in (m.shape for m in matrices))
        if np.any(layer.bias):  # a zero bias is not exported (no Add node)
            total += layer.bias.size
    return 4 * total


def check_onnx_size(model: CompiledModel) -> int:
    """Refuse, before building anything, an export past :data:`MAX_ONNX_BYTES`.

    Returns the export's bytes of weights (:func:`onnx_bytes`).

    Raises
    ------
    TooMuchWorkError
        Naming the size, the limit and the ``.npz`` alternative.
    """
    size = onnx_bytes(model)
    if size > MAX_ONNX_BYTES:
        raise TooMuchWorkError(
            f"the ONNX export of this model would hold {size / 2**30:.1f} GiB of dense "
            f"weights (ONNX MatMul takes dense matrices), more than the limit of "
            f"{MAX_ONNX_BYTES / 2**30:.0f} GiB (an ONNX file cannot pass 2 GiB); save it as "
            ".npz instead (sparse weights), or compile a smaller network",
            estimate=size,
            limit=MAX_ONNX_BYTES,
        )
    return size


def build_onnx(model: CompiledModel) -> Any:
    """The ``onnx.ModelProto`` of ``model`` (checked with ``onnx.checker``).

    Examples
    --------
    >>> import compilers, sortnet
    >>> proto = build_onnx(compilers.compile(sortnet.network("bubble", 3), "abs"))
    >>> [i.name for i in proto.graph.input], [o.name for o in proto.graph.output]
    (['x'], ['y'])
    """
    onnx = _require_onnx()
    check_onnx_size(model)
    helper, numpy_helper = onnx.helper, onnx.numpy_helper
    graph_nodes: list[Any] = []
    initializers: list[Any] = []
    constants: dict[float, str] = {}

    def tensor(name: str, value: np.ndarray) -> str:
        initializers.append(numpy_helper.from_array(value, name))
        return name

    def const(value: float) -> str:
        if value not in constants:
            constants[value] = tensor(f"const_{len(constants)}", np.array(value, np.float32))
        return constants[value]

    def matmul(source: str, matrix: Matrix, name: str) -> str:
        weight = np.ascontiguousarray(to_dense(matrix).T, dtype=np.float32)
        graph_nodes.append(
            helper.make_node("MatMul", [source, tensor(name, weight)], [name + "_out"])
        )
        return name + "_out"

    current = "x"
    for index, layer in enumerate(model.layers):
        tag = f"layer{index}"
        z = matmul(current, layer.weight, f"{tag}_W")
        if np.any(layer.bias):
            bias = tensor(f"{tag}_b", layer.bias.astype(np.float32))
            graph_nodes.append(helper.make_node("Add", [z, bias], [f"{tag}_z"]))
            z = f"{tag}_z"
        groups = layer.groups
        parts = [z] if len(groups) == 1 else [f"{tag}_part{g}" for g in range(len(groups))]
        if len(groups) > 1:
            sizes = np.array([stop - start for _, start, stop in groups], dtype=np.int64)
            graph_nodes.append(
                helper.make_node("Split", [z, tensor(f"{tag}_split", sizes)], parts, axis=1)
            )
        outs = []
        for g, ((name, _, _), part) in enumerate(zip(groups, parts, strict=True)):
            out = f"{tag}_act{g}"
            graph_nodes.extend(ACTIVATIONS[name].onnx(helper.make_node, part, out, const))
            outs.append(out)
        hidden = outs[0]
        if len(outs) > 1:
            hidden = f"{tag}_h"
            graph_nodes.append(helper.make_node("Concat", outs, [hidden], axis=1))
        if layer.out_weight is None or layer.skip is None:
            current = hidden
            continue
        update = matmul(hidden, layer.out_weight, f"{tag}_U")
        carried = current if _identity(layer.skip) else matmul(current, layer.skip, f"{tag}_S")
        graph_nodes.append(helper.make_node("Add", [carried, update], [f"{tag}_y"]))
        current = f"{tag}_y"
    graph_nodes.append(helper.make_node("Identity", [current], ["y"]))
    float32 = onnx.TensorProto.FLOAT
    graph = helper.make_graph(
        graph_nodes,
        "sortnet",
        [helper.make_tensor_value_info("x", float32, ["batch", model.n])],
        [helper.make_tensor_value_info("y", float32, ["batch", model.n_outputs])],
        initializers,
    )
    proto = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="sortnet"
    )
    proto.ir_version = min(proto.ir_version, 8)  # readable by onnxruntime >= 1.14
    proto.doc_string = f"sortnet model: lowering={model.lowering}, k={model.k}, bound={model.bound}"
    onnx.checker.check_model(proto)
    return proto


def export_onnx(model: CompiledModel, path: str | os.PathLike[str]) -> Path:
    """Write ``model`` as an ONNX file at ``path`` (atomically) and return the path."""
    _require_onnx()
    check_target(path, "ONNX model")  # a bad path fails before the export work
    check_onnx_size(model)
    proto = build_onnx(model)
    return atomic_write(path, lambda stream: stream.write(proto.SerializeToString()), "ONNX model")

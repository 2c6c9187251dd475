"""Export a rank (median) filter as one ONNX model: window extraction, then a compiled MLP.

The graph takes ``image`` (float32, ``[H, W]``, the shape fixed at export) and returns
``filtered`` (float32, ``[H, W]``):

1. the image is extended by the boundary mode with two ``Gather`` nodes whose index
   maps are scipy's (:func:`sortnet._boundary.pad_indices`; ``constant`` first pads one cell of
   ``cval`` with ``Pad``), so any mode and any window size, also larger than the image,
   extends exactly as ``scipy.ndimage`` does;
2. im2col: one ``Slice`` per window offset, each reshaped to a column, concatenated to
   ``[H * W, h * w]`` (copies only: no arithmetic, so infinities would survive it);
3. the compiled model of a selection network (``k``-th smallest of ``h * w`` values,
   e.g. ``compilers.compile(sortnet.selection_network(25, 13), k=13)``), exported by
   :func:`sortnet.nn.onnx_export.build_onnx`, maps each window to its rank ``k - 1``;
4. ``Reshape`` back to ``[H, W]``.

Exactness is the model's: integers of magnitude below ``2**22`` (float32 runs) come
out exactly, so an 8- or 16-bit image matches :func:`sortnet.rank_filter` bit for bit;
other floats are within ``model.error_bound`` of each window (about ``8 (D + 1) 2**-24
max|window|``). The ReLU arithmetic turns infinities into NaN: finite images only.
This module does not import the circuit runtime (ARCHITECTURE.md, rule 3), so the
index maps are computed here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sortnet._boundary import MODES, pad_indices
from sortnet.errors import InputError, SortnetError
from sortnet.io.atomic import atomic_write, check_target
from sortnet.nn.onnx_export import OPSET, _require_onnx, build_onnx

if TYPE_CHECKING:
    from sortnet.nn.model import CompiledModel

__all__ = ["build_filter_onnx", "export_filter_onnx"]


def _window(size: Any, n: int) -> tuple[int, int]:
    sizes = size if isinstance(size, (tuple, list)) else (size, size)
    if len(sizes) != 2 or not all(
        isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 1 and s % 2
        for s in sizes
    ):
        raise InputError(f"size must be an odd int >= 1 or (height, width) of them, got {size!r}")
    height, width = int(sizes[0]), int(sizes[1])
    if height * width != n:
        raise SortnetError(
            f"the model takes {n} values but a {height}x{width} window holds {height * width}"
        )
    return height, width


def build_filter_onnx(
    model: CompiledModel,
    shape: tuple[int, int],
    size: Any,
    *,
    mode: str = "reflect",
    cval: float = 0.0,
) -> Any:
    """The ``onnx.ModelProto`` of the rank filter that ``model`` computes on each window.

    Parameters
    ----------
    model : CompiledModel
        A k-th smallest model (``compilers.compile(net, k=...)``) on ``h * w`` inputs;
        the filter outputs rank ``k - 1`` (0-based) of each window.
    shape : (int, int)
        The image height and width (fixed in the graph).
    size : int or (int, int)
        The window, odd sides.
    mode : {"reflect", "nearest", "constant", "mirror", "wrap"}
    cval : float
        The value beyond the border in ``constant`` mode.

    Examples
    --------
    >>> import compilers, sortnet
    >>> model = compilers.compile(sortnet.selection_network(9, 5), k=5)
    >>> proto = build_filter_onnx(model, (4, 6), 3)
    >>> [i.name for i in proto.graph.input], [o.name for o in proto.graph.output]
    (['image'], ['filtered'])
    """
    onnx = _require_onnx()
    if model.k is None or model.n_outputs != 1:
        raise SortnetError("a filter needs a k-th smallest model: compile with k=...")
    height, width = _window(size, model.n)
    if mode not in MODES:
        raise InputError(f"unknown mode {mode!r}; choose {', '.join(MODES)}")
    rows, cols = (int(s) for s in shape)
    if rows < 1 or cols < 1:
        raise InputError(f"the image shape must be positive, got {shape!r}")
    helper, numpy_helper = onnx.helper, onnx.numpy_helper
    nodes: list[Any] = []
    inits: list[Any] = []

    def tensor(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(value, name))
        return name

    current = "image"
    row_map = pad_indices(rows, height // 2, mode)
    col_map = pad_indices(cols, width // 2, mode)
    if mode == "constant":  # one cell of cval around the image; -1 then points to it
        pads = tensor("filter_pads", np.array([1, 1, 1, 1], np.int64))
        fill = tensor("filter_cval", np.array(cval, np.float32))
        nodes.append(helper.make_node("Pad", [current, pads, fill], ["filter_padded"]))
        current, row_map, col_map = "filter_padded", row_map + 1, col_map + 1
    nodes.append(
        helper.make_node(
            "Gather", [current, tensor("filter_rows", row_map.astype(np.int64))], ["filter_r"]
        )
    )
    nodes.append(
        helper.make_node(
            "Gather",
            ["filter_r", tensor("filter_cols", col_map.astype(np.int64))],
            ["filter_ext"],
            axis=1,
        )
    )
    column = tensor("filter_column", np.array([rows * cols, 1], np.int64))
    axes = tensor("filter_axes", np.array([0, 1], np.int64))
    parts = []
    for di in range(height):
        for dj in range(width):
            tag = f"filter_w{di}_{dj}"
            starts = tensor(f"{tag}_s", np.array([di, dj], np.int64))
            ends = tensor(f"{tag}_e", np.array([di + rows, dj + cols], np.int64))
            nodes.append(helper.make_node("Slice", ["filter_ext", starts, ends, axes], [tag]))
            nodes.append(helper.make_node("Reshape", [tag, column], [tag + "_c"]))
            parts.append(tag + "_c")
    nodes.append(helper.make_node("Concat", parts, ["x"], axis=1))
    inner = build_onnx(model)
    nodes.extend(inner.graph.node)
    inits.extend(inner.graph.initializer)
    image_shape = tensor("filter_shape", np.array([rows, cols], np.int64))
    nodes.append(helper.make_node("Reshape", ["y", image_shape], ["filtered"]))
    float32 = onnx.TensorProto.FLOAT
    graph = helper.make_graph(
        nodes,
        "sortnet_rank_filter",
        [helper.make_tensor_value_info("image", float32, [rows, cols])],
        [helper.make_tensor_value_info("filtered", float32, [rows, cols])],
        inits,
    )
    proto = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="sortnet"
    )
    proto.ir_version = min(proto.ir_version, 8)
    proto.doc_string = (
        f"sortnet rank filter: {height}x{width} window, rank {model.k - 1} (0-based), "
        f"mode {mode}, image {rows}x{cols}, lowering {model.lowering}"
    )
    onnx.checker.check_model(proto)
    return proto


def export_filter_onnx(
    model: CompiledModel,
    path: str | os.PathLike[str],
    shape: tuple[int, int],
    size: Any,
    *,
    mode: str = "reflect",
    cval: float = 0.0,
) -> Path:
    """Write :func:`build_filter_onnx` to ``path`` (atomically) and return the path."""
    check_target(path, "ONNX model")
    proto = build_filter_onnx(model, shape, size, mode=mode, cval=cval)
    return atomic_write(path, lambda stream: stream.write(proto.SerializeToString()), "ONNX model")

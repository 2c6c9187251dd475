"""A tile transpose as a numba intrinsic, shared by both runtimes' generated kernels.

Importing this module requires numba. The circuit's tiles kernels
(:mod:`sortnet.circuit.codegen`) and the models' straight-line kernels
(:mod:`sortnet.nn.codegen`) both move a block of rows between the batch (row-major)
and a buffer with one wire per row: :func:`transpose_tile` does one square tile of
that with vector loads, shuffles and stores, where a loop over elements reads or
writes one value at a time (in the model kernels that loop was a third of the time:
1M x 32 float32 rows, one thread, 33.5 of 100.4 ms).

This module is part of the shared layer under both runtimes (ARCHITECTURE.md, "Import
rules"): it imports only :mod:`sortnet._jit` of sortnet, where the tile size
(:func:`sortnet._jit.tile_lanes`) lives, importable without numba.
"""

from __future__ import annotations

from typing import Any

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from sortnet._jit import prefer_wide_vectors

__all__ = ["transpose_tile"]


@intrinsic(prefer_literal=True)
def transpose_tile(
    typingctx: Any,
    src: Any,
    src_row: types.Type,
    src_col: types.Type,
    dst: Any,
    dst_row: types.Type,
    dst_col: types.Type,
    lanes: types.Type,
) -> Any:
    """``dst[dst_row + j, dst_col + i] = src[src_row + i, src_col + j]`` for a lanes x lanes tile.

    Both arrays are C-contiguous 2-D arrays of one dtype; ``lanes`` is a literal
    power of two. The tile is loaded as ``lanes`` vectors (one per source row),
    transposed with ``log2(lanes)`` rounds of two-input shuffles (round ``h``
    exchanges bit ``h`` of the row and the lane index), and stored as vectors:
    LLVM lowers the shuffles to ``vpermt2ps``/``vunpcklps`` and friends.
    """
    arrays = (src, dst)
    if not all(isinstance(a, types.Array) and a.ndim == 2 and a.layout == "C" for a in arrays):
        return None
    if src.dtype != dst.dtype or not isinstance(lanes, types.IntegerLiteral):
        return None
    width = lanes.literal_value
    signature = types.void(src, src_row, src_col, dst, dst_row, dst_col, lanes)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        # The kernel around this call: 16 float32 lanes in one register, not two (the
        # circuit's tiles kernels 1.1x faster on an AVX-512 Xeon; its rows and columns
        # layouts, without tiles, were 1.15-1.25x slower with the attribute).
        prefer_wide_vectors(builder.function)
        source, row, col, target, target_row, target_col, _ = args
        element = context.get_data_type(src.dtype)
        align = context.get_abi_sizeof(element)
        vector = ir.VectorType(element, width)
        index = ir.IntType(64)

        def as_index(value: Any, kind: types.Type) -> Any:
            return context.cast(builder, value, kind, types.int64)

        def tile_pointers(array_type: Any, value: Any, first_row: Any, first_col: Any) -> list[Any]:
            array = context.make_array(array_type)(context, builder, value)
            stride = builder.extract_value(array.shape, 1)
            return [
                builder.bitcast(
                    builder.gep(
                        array.data,
                        [
                            builder.add(
                                builder.mul(builder.add(first_row, index(i)), stride), first_col
                            )
                        ],
                    ),
                    vector.as_pointer(),
                )
                for i in range(width)
            ]

        loads = tile_pointers(src, source, as_index(row, sig.args[1]), as_index(col, sig.args[2]))
        rows = [builder.load(pointer, align=align) for pointer in loads]
        step = 1
        while step < width:
            low = [lane if not lane & step else width + lane - step for lane in range(width)]
            high = [lane + step if not lane & step else width + lane for lane in range(width)]
            mask_type = ir.VectorType(ir.IntType(32), width)
            for i in range(width):
                if i & step:
                    continue
                a, b = rows[i], rows[i + step]
                rows[i] = builder.shuffle_vector(a, b, ir.Constant(mask_type, low))
                rows[i + step] = builder.shuffle_vector(a, b, ir.Constant(mask_type, high))
            step *= 2
        stores = tile_pointers(
            dst, target, as_index(target_row, sig.args[4]), as_index(target_col, sig.args[5])
        )
        for value, pointer in zip(rows, stores, strict=True):
            builder.store(value, pointer, align=align)
        return context.get_dummy_value()

    return signature, codegen

"""numba intrinsics of the top-k kernels (:mod:`sortnet.circuit.topk_kernels`): vector swaps.

A top-k kernel keeps a tile of ``lanes`` rows transposed in an ``(n, lanes)`` buffer,
so a comparator ``(i, j)`` acts on two buffer rows at once. LLVM does not vectorise
that loop by itself (it cannot prove rows ``i`` and ``j`` distinct), so these
intrinsics load both rows as vectors, compare-exchange them lane by lane and store
them back: one packed ``vpminuq``/``vpmaxuq`` pair per comparator on AVX-512.

* :func:`cx_rows` on unsigned keys that already hold the index in their low bits (the
  ``(key << 32) | ~index`` packing of 32-bit values): ``min`` to row ``i``, ``max`` to
  row ``j``.
* :func:`cx_pairs` on separate ``keys`` and ``index`` buffers (64-bit values): the
  pair with the larger key, or the equal key and the smaller index, goes to row ``j``.

Importing this module requires numba.
"""

from __future__ import annotations

from typing import Any

from llvmlite import ir
from numba import types
from numba.extending import intrinsic


def _row_pointer(context: Any, builder: Any, array_type: Any, value: Any, row: Any, vector: Any):
    """A pointer to row ``row`` of a C-contiguous 2-D array, as a pointer to ``vector``."""
    array = context.make_array(array_type)(context, builder, value)
    stride = builder.extract_value(array.shape, 1)
    start = builder.mul(row, stride)
    return builder.bitcast(builder.gep(array.data, [start]), vector.as_pointer())


def _check(buffers: tuple[Any, ...], lanes: Any) -> bool:
    """C-contiguous 2-D unsigned integer buffers and a literal lane count."""
    return isinstance(lanes, types.IntegerLiteral) and all(
        isinstance(b, types.Array)
        and b.ndim == 2
        and b.layout == "C"
        and isinstance(b.dtype, types.Integer)
        and not b.dtype.signed  # type: ignore[attr-defined]
        for b in buffers
    )


@intrinsic(prefer_literal=True)
def cx_rows(typingctx: Any, buf: Any, i: types.Type, j: types.Type, lanes: types.Type) -> Any:
    """Rows ``i`` and ``j`` of ``buf`` (unsigned, ``(n, lanes)``, C order) become min and max."""
    if not isinstance(buf, types.Array) or not isinstance(lanes, types.IntegerLiteral):
        return None
    if not _check((buf,), lanes):
        return None
    width = lanes.literal_value
    signature = types.void(buf, i, j, lanes)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        value, row_i, row_j, _ = args
        element = context.get_data_type(buf.dtype)
        vector = ir.VectorType(element, width)
        align = context.get_abi_sizeof(element)
        rows = [
            context.cast(builder, r, t, types.int64)
            for r, t in zip((row_i, row_j), sig.args[1:3], strict=True)
        ]
        pi, pj = (_row_pointer(context, builder, buf, value, r, vector) for r in rows)
        a = builder.load(pi, align=align)
        b = builder.load(pj, align=align)
        swap = builder.icmp_unsigned(">", a, b)
        builder.store(builder.select(swap, b, a), pi, align=align)
        builder.store(builder.select(swap, a, b), pj, align=align)
        return context.get_dummy_value()

    return signature, codegen


@intrinsic(prefer_literal=True)
def cx_pairs(
    typingctx: Any, keys: Any, index: Any, i: types.Type, j: types.Type, lanes: types.Type
) -> Any:
    """Rows ``i`` and ``j`` of ``(keys, index)``: the greater pair to row ``j``.

    A pair is greater when its key is larger, or its key equal and its index smaller
    (so among equal keys the smaller index ranks higher: a stable top-k).
    """
    arrays = (keys, index)
    if not isinstance(lanes, types.IntegerLiteral) or not _check(arrays, lanes):
        return None
    width = lanes.literal_value
    signature = types.void(keys, index, i, j, lanes)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        key_value, index_value = args[0], args[1]
        rows = [
            context.cast(builder, r, t, types.int64)
            for r, t in zip(args[2:4], sig.args[2:4], strict=True)
        ]
        found = []
        for array_type, value in ((keys, key_value), (index, index_value)):
            element = context.get_data_type(array_type.dtype)
            vector = ir.VectorType(element, width)
            align = context.get_abi_sizeof(element)
            pointers = [_row_pointer(context, builder, array_type, value, r, vector) for r in rows]
            loaded = [builder.load(p, align=align) for p in pointers]
            found.append((pointers, loaded, align))
        (kp, (ka, kb), kalign), (ip, (ia, ib), ialign) = found
        tie = builder.and_(builder.icmp_unsigned("==", ka, kb), builder.icmp_unsigned("<", ia, ib))
        swap = builder.or_(builder.icmp_unsigned(">", ka, kb), tie)
        # a ^ ((a ^ b) & mask) rather than select: LLVM turns a select against the value
        # just loaded into a masked store, which the next comparator's load of the same
        # row then waits for (no store forwarding): 6x slower.
        for (pi, pj), a, b in ((kp, ka, kb), (ip, ia, ib)):
            mask = builder.sext(swap, a.type)
            d = builder.and_(builder.xor(a, b), mask)
            align = kalign if pi is kp[0] else ialign
            builder.store(builder.xor(a, d), pi, align=align)
            builder.store(builder.xor(b, d), pj, align=align)
        return context.get_dummy_value()

    return signature, codegen


@intrinsic(prefer_literal=True)
def load_keys32(
    typingctx: Any,
    bits: Any,
    row: types.Type,
    col: types.Type,
    buf: Any,
    mode: Any,
    lanes: types.Type,
) -> Any:
    """``buf[col + j, i] = (key(bits[row + i, col + j]) << 32) | ~(col + j)`` for a tile.

    ``bits`` holds 32-bit patterns (``uint32``, C order), ``buf`` is ``(n, lanes)``
    ``uint64``; ``lanes`` (a literal, 16) rows and columns are loaded as vectors,
    transposed with shuffles and turned into keys lane-parallel: the vector form of
    the kernel's scalar ``_key32`` (``mode`` = ``is_float, sign, flip``).
    """
    if not isinstance(lanes, types.IntegerLiteral) or not _check((bits, buf), lanes):
        return None
    if bits.dtype != types.uint32 or buf.dtype != types.uint64:
        return None
    width = lanes.literal_value
    signature = types.void(bits, row, col, buf, mode, lanes)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        source, first_row, first_col, target, flags, _ = args
        i32, i64 = ir.IntType(32), ir.IntType(64)
        v32, v64 = ir.VectorType(i32, width), ir.VectorType(i64, width)
        first_row = context.cast(builder, first_row, sig.args[1], types.int64)
        first_col = context.cast(builder, first_col, sig.args[2], types.int64)
        array = context.make_array(bits)(context, builder, source)
        stride = builder.extract_value(array.shape, 1)
        rows = []
        for i in range(width):
            start = builder.add(builder.mul(builder.add(first_row, i64(i)), stride), first_col)
            pointer = builder.bitcast(builder.gep(array.data, [start]), v32.as_pointer())
            rows.append(builder.load(pointer, align=4))
        step = 1
        mask_type = ir.VectorType(i32, width)
        while step < width:  # round h exchanges bit h of the row and the lane index
            low = [lane if not lane & step else width + lane - step for lane in range(width)]
            high = [lane + step if not lane & step else width + lane for lane in range(width)]
            for i in range(width):
                if not i & step:
                    a, b = rows[i], rows[i + step]
                    rows[i] = builder.shuffle_vector(a, b, ir.Constant(mask_type, low))
                    rows[i + step] = builder.shuffle_vector(a, b, ir.Constant(mask_type, high))
            step *= 2
        mode_array = context.make_array(mode)(context, builder, flags)

        def splat(value: Any, vector: Any) -> Any:
            undef = ir.Constant(vector, ir.Undefined)
            one = builder.insert_element(undef, value, i32(0))
            return builder.shuffle_vector(one, undef, ir.Constant(mask_type, [0] * width))

        def flag(index: int) -> Any:
            return builder.trunc(builder.load(builder.gep(mode_array.data, [i64(index)])), i32)

        is_float = splat(flag(0), v32)
        sign_flip = splat(builder.xor(flag(1), flag(2)), v32)
        top, magnitude = splat(i32(31), v32), splat(i32(0x7FFFFFFF), v32)
        zero, shift = ir.Constant(v32, None), splat(i64(32), v64)
        target_array = context.make_array(buf)(context, builder, target)
        target_stride = builder.extract_value(target_array.shape, 1)
        for j in range(width):
            u = rows[j]
            negative = builder.and_(builder.lshr(u, top), is_float)
            key = builder.xor(u, builder.and_(builder.sub(zero, negative), magnitude))
            key = builder.add(key, builder.and_(builder.lshr(key, top), is_float))
            key = builder.xor(key, sign_flip)
            wire = builder.add(first_col, i64(j))
            low_bits = builder.xor(wire, i64(0xFFFFFFFF))
            word = builder.or_(builder.shl(builder.zext(key, v64), shift), splat(low_bits, v64))
            start = builder.mul(wire, target_stride)
            pointer = builder.bitcast(builder.gep(target_array.data, [start]), v64.as_pointer())
            builder.store(word, pointer, align=8)
        return context.get_dummy_value()

    return signature, codegen

"""numba intrinsics used by the generated kernels of :mod:`sortnet.circuit.kernels`.

Importing this module requires numba; :mod:`sortnet.circuit.kernels` imports it only when
numba is installed. Each comparator becomes one compare and two ``select``
instructions in LLVM IR, so a generated kernel is one basic block per row: LLVM
turns the selects into ``vminss``/``vmaxss`` (or packed ``vminps`` when a loop is
vectorised) and numba's type inference stays fast, where a Python ``a if a < b
else b`` would create two branches per comparator and slow compilation tenfold.

Semantics, chosen so that a comparator is a permutation of its two inputs (no bit
pattern is lost, unlike ``np.minimum``/``np.maximum`` on ``-0.0`` and ``0.0``):

* ``cmpx(a, b)`` swaps exactly when ``b < a``; equal values (including ``-0.0``
  against ``0.0``) stay where they are.
* ``cmpx_index(a, b, i, j)`` swaps when ``b < a``, or when they are equal and
  ``j < i``, so ties keep index order (a stable argsort).

NaN never reaches a kernel: :func:`sortnet.sort` refuses it first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from sortnet._tiles import transpose_tile

__all__ = ["cmpx", "cmpx_index", "network_intrinsic", "transpose_tile"]


def _less(builder: Any, kind: types.Type, x: Any, y: Any) -> Any:
    """LLVM ``x < y`` for a float or a (signed or unsigned) integer numba type."""
    if isinstance(kind, types.Float):
        return builder.fcmp_ordered("<", x, y)
    if kind.signed:  # type: ignore[attr-defined]
        return builder.icmp_signed("<", x, y)
    return builder.icmp_unsigned("<", x, y)


def _equal(builder: Any, kind: types.Type, x: Any, y: Any) -> Any:
    if isinstance(kind, types.Float):
        return builder.fcmp_ordered("==", x, y)
    return builder.icmp_signed("==", x, y)


@intrinsic
def cmpx(typingctx: Any, a: types.Type, b: types.Type) -> Any:
    """Compare-exchange: ``(min, max)`` of two values of one numeric type."""
    if a != b or not isinstance(a, (types.Float, types.Integer)):
        return None
    signature = types.UniTuple(a, 2)(a, b)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        x, y = args
        swap = _less(builder, a, y, x)
        low, high = builder.select(swap, y, x), builder.select(swap, x, y)
        return context.make_tuple(builder, sig.return_type, [low, high])

    return signature, codegen


@intrinsic
def cmpx_index(typingctx: Any, a: types.Type, b: types.Type, i: types.Type, j: types.Type) -> Any:
    """Compare-exchange of ``(value, index)`` pairs, ties broken by index."""
    if a != b or i != j or not isinstance(i, types.Integer):
        return None
    if not isinstance(a, (types.Float, types.Integer)):
        return None
    signature = types.Tuple((a, a, i, i))(a, b, i, j)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        x, y, p, q = args
        tie = builder.and_(_equal(builder, a, x, y), _less(builder, i, q, p))
        swap = builder.or_(_less(builder, a, y, x), tie)
        parts = [
            builder.select(swap, y, x),
            builder.select(swap, x, y),
            builder.select(swap, q, p),
            builder.select(swap, p, q),
        ]
        return context.make_tuple(builder, sig.return_type, parts)

    return signature, codegen


def network_intrinsic(
    comparators: Sequence[tuple[int, int]],
    outputs: Sequence[int],
    kind: str = "sort",
    *,
    transposed: bool = False,
) -> Any:
    """An intrinsic ``apply(src, i, dst, j)`` running a whole comparator network on one row.

    It loads the row's values (``src[i, w]`` for each wire ``w``; with ``transposed``,
    ``src[w, i]``), runs every comparator as :func:`cmpx` (``kind="sort"``) or
    :func:`cmpx_index` with constant start indices (``kind="argsort"``), and stores
    output ``p`` (the value, or for argsort its source column) in ``dst[j, p]``
    (``dst[p, j]`` with ``transposed``). The network is emitted as LLVM IR in one go:
    numba's own passes see a single call, where a Python line per comparator cost them
    about 15 ms each (30 s for the 2016 comparators of bubble n = 64; this way 0.7 s).
    Every load happens before any store, so ``dst`` may be ``src``.
    """
    pairs = [(int(i), int(j)) for i, j in comparators]
    wires = 1 + max([w for pair in pairs for w in pair] + [int(w) for w in outputs] + [0])
    stored = [int(w) for w in outputs]

    @intrinsic
    def apply(typingctx: Any, src: Any, i: Any, dst: Any, j: Any) -> Any:
        if not all(isinstance(a, types.Array) and a.ndim == 2 for a in (src, dst)):
            return None
        if not isinstance(src.dtype, (types.Float, types.Integer)):
            return None
        if (kind == "sort" and dst.dtype != src.dtype) or (
            kind == "argsort" and not isinstance(dst.dtype, types.Integer)
        ):
            return None
        signature = types.void(src, i, dst, j)

        def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
            source, row, target, target_row = args
            index = context.get_value_type(types.intp)

            def pointer(array_type: Any, value: Any, at: Any, wire: int) -> Any:
                array = context.make_array(array_type)(context, builder, value)
                place = [index(wire), at] if transposed else [at, index(wire)]
                return cgutils.get_item_pointer2(
                    context,
                    builder,
                    array.data,
                    cgutils.unpack_tuple(builder, array.shape),
                    cgutils.unpack_tuple(builder, array.strides),
                    array_type.layout,
                    place,
                )

            at = context.cast(builder, row, sig.args[1], types.intp)
            values = [builder.load(pointer(src, source, at, w)) for w in range(wires)]
            columns = [index(w) for w in range(wires)]
            for a, b in pairs:
                x, y, p, q = values[a], values[b], columns[a], columns[b]
                swap = _less(builder, src.dtype, y, x)
                if kind == "argsort":
                    earlier = builder.icmp_signed("<", q, p)
                    swap = builder.or_(
                        swap, builder.and_(_equal(builder, src.dtype, x, y), earlier)
                    )
                    columns[a], columns[b] = builder.select(swap, q, p), builder.select(swap, p, q)
                values[a], values[b] = builder.select(swap, y, x), builder.select(swap, x, y)
            out_at = context.cast(builder, target_row, sig.args[3], types.intp)
            for position, wire in enumerate(stored):
                if kind == "argsort":
                    result = context.cast(builder, columns[wire], types.intp, dst.dtype)
                else:
                    result = values[wire]
                builder.store(result, pointer(dst, target, out_at, position))
            return context.get_dummy_value()

        return signature, codegen

    return apply

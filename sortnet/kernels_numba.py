"""numba intrinsics used by the generated kernels of :mod:`sortnet.kernels`.

Importing this module requires numba; :mod:`sortnet.kernels` imports it only when
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

from typing import Any

from numba import types
from numba.extending import intrinsic


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

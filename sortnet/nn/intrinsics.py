"""numba intrinsic used by the generated kernels of :mod:`sortnet.nn.kernels`.

Importing this module requires numba. A unit's pre-activation is one call
``lin(v0, w0, v1, w1, ...)``, emitted straight as LLVM ``fmul``/``fadd``
instructions: ``w0 * v0 + w1 * v1 + ...``, summed left to right, no fused
multiply-add (no fast-math flags), so every product and sum rounds as in numpy.
One call per unit instead of one per operator keeps numba's type inference, which
costs about half a millisecond per call, from dominating compile time (measured
~10x faster compiles than writing the sum with ``+`` and ``*``). LLVM folds the
products by the constants 1 and -1 into plain additions and subtractions, which
round identically.
"""

from __future__ import annotations

from typing import Any

from numba import types
from numba.extending import intrinsic


@intrinsic
def lin(typingctx: Any, *args: Any) -> Any:
    """``v0 * w0 + v1 * w1 + ...`` for pairs ``(value, weight)`` of one float type."""
    if len(args) == 1 and isinstance(args[0], types.BaseTuple):
        args = tuple(args[0].types)  # type: ignore[attr-defined]  # star args: one tuple type
    if not args or len(args) % 2 or len(set(args)) != 1 or not isinstance(args[0], types.Float):
        return None
    kind = args[0]
    signature = kind(types.StarArgTuple(args))

    def codegen(context: Any, builder: Any, sig: Any, llargs: Any) -> Any:
        (packed,) = llargs
        values = [builder.extract_value(packed, i) for i in range(len(args))]
        total = builder.fmul(values[0], values[1])
        for at in range(2, len(values), 2):
            total = builder.fadd(total, builder.fmul(values[at], values[at + 1]))
        return total

    return signature, codegen


@intrinsic
def pick(typingctx: Any, condition: Any, a: Any, b: Any) -> Any:
    """``a if condition else b`` as one LLVM ``select``: no branch, so no basic blocks.

    A Python conditional expression gives numba three blocks, and its SSA pass time
    grows with the blocks times the statements (the reverse kernel has one per unit).
    """
    if not isinstance(condition, types.Boolean) or a != b:
        return None

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return builder.select(*args)

    return a(condition, a, b), codegen

"""A whole compiled model as one numba intrinsic: the straight-line kernel's row code.

Importing this module requires numba. :mod:`sortnet.nn.codegen` writes a model's
layers into the generated module as literals (:func:`layer_spec`) and builds
``apply(S, r) = model_intrinsic(LAYERS, n, block, fused)``: every unit of row ``r``
emitted as LLVM IR in one go, reading input wire ``w`` at ``S[w * block + r]`` and
writing output ``p`` at ``S[(n + p) * block + r]``. The generated row loop calls it,
and LLVM vectorises that loop. numba's own passes then see one call per block, where
a Python statement per unit cost them about half a millisecond each (12 s for the relu
model of bitonic n = 32; this way about a second).

Arithmetic, unit by unit, as in :mod:`sortnet.nn.codegen`'s ``lin``: products added
left to right in column order, the bias last, no reassociation. Three refinements, each
exact:

* Weights ``1`` and ``-1`` are an addition and a subtraction (``x * 1`` is exact).
* A relu unit whose terms and bias are the negation of an earlier relu unit's in the
  same layer (the ``relu(z)``, ``relu(-z)`` pair of a comparator) takes ``-z``:
  rounding is symmetric, so the negated sum is exactly ``-z`` except for the sign of
  a zero, and relu maps both zeros to ``+0.0`` (as ``np.maximum(z, 0)`` does).
* With ``fused``, every other product is added with one fused multiply-add. That
  equals multiply-then-add when the product is exact; the kernel runs the fused
  copy only on blocks with no non-zero input below the model's threshold
  (:func:`sortnet.nn.exact_products.fused_threshold`).
"""

# numba's intrinsics are typed as one-argument callables to mypy; their calls here are right.
# mypy: disable-error-code="arg-type, call-arg"
from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from sortnet._jit import prefer_wide_vectors
from sortnet.nn.activations import ACTIVATIONS

#: One unit: (activation, bias, ((column, weight), ...)); a residual output row:
#: (skip terms over the layer's inputs, out terms over its hidden units).
Unit = tuple[str, float, tuple[tuple[int, float], ...]]
Layer = tuple[tuple[Unit, ...], "tuple[tuple[Any, Any], ...] | None"]


def negated_partners(units: Sequence[Unit]) -> dict[int, int]:
    """``{k: j}`` for each relu unit ``k`` that is the negation of an earlier relu unit ``j``.

    Examples
    --------
    >>> negated_partners([("relu", 0.0, ((0, 0.5), (1, -0.5))),
    ...                   ("relu", 0.0, ((0, -0.5), (1, 0.5))),
    ...                   ("abs", 0.0, ((0, -0.5), (1, 0.5)))])
    {1: 0}
    """
    seen: dict[tuple[float, tuple[tuple[int, float], ...]], int] = {}
    partners = {}
    for k, (activation, bias, terms) in enumerate(units):
        if activation != "relu":
            continue
        negated = (-bias, tuple((column, -weight) for column, weight in terms))
        if terms and negated in seen:
            partners[k] = seen.pop(negated)  # one partner each
        else:
            seen.setdefault((bias, terms), k)
    return partners


@functools.cache
def _scalar(name: str) -> Any:
    """The registry's scalar expression of activation ``name`` as a function (numba-compiled)."""
    expression = ACTIVATIONS[name].scalar.format(z="z", zero="zero", one="one")
    return eval(f"lambda z, zero, one: {expression}", {"np": np, "abs": abs, "max": max})  # noqa: S307


def model_intrinsic(layers: Sequence[Layer], n: int, block: int, fused: bool) -> Any:
    """The intrinsic ``apply(S, r)`` computing every unit of row ``r`` (see the module notes).

    ``layers`` are :func:`sortnet.nn.codegen.layer_spec` literals; ``S`` is a 1-D
    C-contiguous float array with ``block`` rows per wire.
    """
    plan = [(units, outs, negated_partners(units)) for units, outs in layers]

    @intrinsic
    def apply(typingctx: Any, S: Any, r: Any) -> Any:
        if not (isinstance(S, types.Array) and S.ndim == 1 and isinstance(S.dtype, types.Float)):
            return None
        signature = types.void(S, r)

        def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
            prefer_wide_vectors(builder.function)  # the row loop around this call
            kind = sig.args[0].dtype
            flt = context.get_value_type(kind)
            index = context.get_value_type(types.intp)
            data = context.make_array(sig.args[0])(context, builder, args[0]).data
            row = context.cast(builder, args[1], sig.args[1], types.intp)
            fma = builder.module.declare_intrinsic(
                "llvm.fma", [flt], ir.FunctionType(flt, [flt, flt, flt])
            )
            fabs = builder.module.declare_intrinsic("llvm.fabs", [flt])
            zero, one = flt(0.0), flt(1.0)

            def at(offset: int) -> Any:
                return builder.gep(data, [builder.add(row, index(offset))], inbounds=True)

            def linear(pairs: list[tuple[Any, float]], bias: float) -> Any:
                total = None
                for value, weight in pairs:
                    if total is None:
                        total = builder.fmul(value, flt(weight))
                    elif weight == 1.0:
                        total = builder.fadd(total, value)
                    elif weight == -1.0:
                        total = builder.fsub(total, value)
                    elif fused:
                        total = builder.call(fma, [value, flt(weight), total])
                    else:
                        total = builder.fadd(total, builder.fmul(value, flt(weight)))
                if bias != 0.0:
                    total = flt(bias) if total is None else builder.fadd(total, flt(bias))
                return zero if total is None else total

            def activate(name: str, z: Any) -> Any:
                if name == "identity":
                    return z
                if name == "relu":  # +0.0 for either zero, as np.maximum(z, 0)
                    return builder.select(builder.fcmp_ordered(">", z, zero), z, zero)
                if name == "abs":
                    return builder.call(fabs, [z])
                if name == "step":
                    return builder.select(builder.fcmp_ordered(">=", z, zero), one, zero)
                if name == "indicator":
                    inside = builder.fcmp_ordered("<=", builder.call(fabs, [z]), one)
                    return builder.select(inside, one, zero)
                scalar = types.float64 if kind == types.float64 else types.float32
                return context.compile_internal(
                    builder, _scalar(name), scalar(scalar, scalar, scalar), [z, zero, one]
                )

            values = [builder.load(at(w * block)) for w in range(n)]
            for units, outs, partners in plan:
                sums: list[Any] = []
                hidden = []
                for k, (name, bias, terms) in enumerate(units):
                    if k in partners:
                        z = builder.fneg(sums[partners[k]])
                    else:
                        z = linear([(values[c], w) for c, w in terms], bias)
                    sums.append(z)
                    hidden.append(activate(name, z))
                if outs is None:
                    values = hidden
                    continue
                values = [  # skip and out terms in one sum
                    linear([(values[c], w) for c, w in skip] + [(hidden[c], w) for c, w in out], 0)
                    for skip, out in outs
                ]
            for p, value in enumerate(values):
                builder.store(value, at((n + p) * block))
            return context.get_dummy_value()

        return signature, codegen

    return apply

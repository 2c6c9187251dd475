"""When a model's products are exact, so that a fused multiply-add changes no bit.

The C model kernel (:mod:`sortnet.nn.native`) adds each term ``x * w`` of a unit's sum
with one fused multiply-add where the CPU has one. ``fma(x, w, acc)`` rounds once,
``acc + x * w`` twice; the two are equal whenever the product ``x * w`` is exact.
:func:`fused_threshold` finds, for one model and dtype, an input magnitude ``tiny``
such that on a block of rows whose non-zero inputs all have ``|x| >= tiny``, every
product the model computes is exact. The kernel checks each block against it and
runs the multiply-then-add copy of its units otherwise, so both copies return the
same bits as the numba generic kernel on every input.

Why it holds (a grid argument). A float with ``|x| >= 2**E`` is a multiple of
``2**(E - p + 1)`` (``p`` = 24 significand bits for float32, 53 for float64), and 0 is
a multiple of anything. If a value is a multiple of ``2**g`` and ``w = ±2**k`` with
``k <= 0``, then ``x * w`` is a multiple of ``2**(g + k)``; when ``g + k`` is at least the
exponent of the smallest subnormal, that product is representable, i.e. exact (it
keeps ``x``'s significant bits). A rounded sum of multiples of ``2**h`` is again one
(either it is exact or its last place is at least ``2**h``), and abs, ReLU, identity
keep the grid; a bias ``b`` is a multiple of ``2**(exponent(b) - p + 1)``; step and
indicator give 0 or 1. Following every buffer row through the program gives each row a
grid ``min(E + o, a)`` (``o`` relative to ``E``, ``a`` absolute), and each term a bound
on ``E``. Models with other weights (not a power of two, or above 1 in magnitude,
where a product could overflow) or other activations get no threshold: their blocks
always run the multiply-then-add copy.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from sortnet.nn.program import CODES, program

if TYPE_CHECKING:
    from sortnet.nn.model import CompiledModel

_INF = math.inf
#: Activations whose output is on the grid of its input (abs, relu, identity) or is
#: 0 or 1 (step, indicator).
_SAME_GRID = {CODES.index(name) for name in ("identity", "abs", "relu")}
_ZERO_ONE = {CODES.index(name) for name in ("step", "indicator")}


def fused_threshold(model: CompiledModel, dtype: Any) -> float:
    """The smallest non-zero input magnitude at which every product is exact, or 0.

    0 means never: some weight is not a power of two of magnitude at most 1, or some
    activation has no grid (softplus), so a fused multiply-add could change a result.

    Examples
    --------
    >>> import compilers, sortnet
    >>> model = compilers.compile(sortnet.network("bitonic", 4), "relu")
    >>> tiny = fused_threshold(model, np.float32)
    >>> 0 < tiny < 1e-30  # halvings only: inputs must not be near the subnormals
    True
    >>> soft = compilers.compile(sortnet.network("bitonic", 4), "softplus", steepness=10.0)
    >>> fused_threshold(soft, np.float32)
    0.0
    """
    dtype = np.dtype(dtype)
    return model.memo(("fused threshold", dtype), lambda: _threshold(model, dtype))  # type: ignore[no-any-return]


def _threshold(model: CompiledModel, dtype: np.dtype) -> float:
    p = program(model, dtype)
    info = np.finfo(dtype)
    digits = info.nmant  # p - 1
    smallest = int(np.log2(float(info.smallest_subnormal)))  # -149 or -1074
    magnitudes = np.abs(p.weights.astype(np.float64))
    mantissa, exponents = np.frexp(magnitudes)
    if magnitudes.size and (np.any(mantissa != 0.5) or np.any(magnitudes > 1)):
        return 0.0
    shifts = (exponents - 1).tolist()  # w = ±2**shift, shift <= 0
    relative = [_INF] * p.width  # o: the row is a multiple of 2**(E + o)
    absolute = [_INF] * p.width  # a: ... and of 2**a (rows start as 0)
    relative[: model.n] = [-digits] * model.n
    bound = -_INF  # E must be at least this
    rows = p.terms.tolist()
    for (target, first, stop, code), bias in zip(p.units.tolist(), p.bias.tolist(), strict=True):
        if code not in _SAME_GRID and code not in _ZERO_ONE:
            return 0.0
        o, a = _INF, _INF
        for row, shift in zip(rows[first:stop], shifts[first:stop], strict=True):
            if absolute[row] + shift < smallest:
                return 0.0  # a product that no input threshold makes exact
            bound = max(bound, smallest - relative[row] - shift)
            o, a = min(o, relative[row] + shift), min(a, absolute[row] + shift)
        if bias != 0:
            a = min(a, math.frexp(abs(bias))[1] - 1 - digits)
        if code in _ZERO_ONE:
            o, a = _INF, 0
        relative[target], absolute[target] = o, a
    if bound == -_INF:  # no product at all
        return float(info.smallest_subnormal)
    if bound >= info.maxexp:  # no finite input is large enough
        return 0.0
    return max(math.ldexp(1.0, int(bound)), float(info.smallest_subnormal))

"""The activation registry: every per-unit activation a compiled model may use.

Each activation is defined once, here: its formula (for summaries), its symbol and
fill colour (for the ``layers`` diagrams of :mod:`sortnet.draw.layers`),
a pure reference function, an in-place numpy kernel (for the executor), an
ONNX emitter (for :meth:`~sortnet.nn.model.CompiledModel.to_onnx`) and a scalar
expression template for the generated numba kernels (:mod:`sortnet.nn.kernels`),
its derivative and, for ReLU and abs, the derivative of their smooth relaxation
(both for :mod:`sortnet.nn.autodiff`). Adding an activation means adding one
:class:`Activation` to :data:`ACTIVATIONS`; nothing else switches on activation names.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from sortnet.errors import SortnetError

#: ``emit(make_node, z, y, const)`` returns the ONNX nodes computing ``y = act(z)``;
#: ``const(value)`` returns the name of a float32 scalar initializer holding ``value``.
OnnxEmitter = Callable[[Callable[..., Any], str, str, Callable[[float], str]], list[Any]]


@dataclass(frozen=True)
class Activation:
    """One activation: its name, formula and three implementations that agree.

    Attributes
    ----------
    name : str
        The registry key, stored in model files.
    formula : str
        Human-readable definition in terms of the pre-activation ``z``.
    reference : callable
        Pure function ``ndarray -> ndarray``: the living definition.
    inplace : callable
        Overwrites its (contiguous) argument with the activation of it.
    onnx : callable
        Emits ONNX nodes (see :data:`OnnxEmitter`).
    scalar : str
        A Python expression of one scalar, compiled by numba in generated kernels:
        ``{z}`` is the pre-activation, ``{zero}`` and ``{one}`` name constants of
        the run's dtype (a bare ``0.0`` would promote float32 arithmetic to float64).
    symbol : str
        How a diagram writes the activation on its unit.
    fill : str
        The unit's fill colour in diagrams.
    derivative : callable or None
        ``z -> act'(z)``, elementwise, same dtype. At a kink the value is a
        convention: ``relu'(0) = 0`` and ``abs'(0) = sign(0) = 0``; the jumps of
        ``step`` and ``indicator`` count as derivative 0 (it is 0 almost everywhere).
    relaxed : callable or None
        ``(z, beta) -> d/dz`` of the smooth relaxation at steepness ``beta``, for
        straight-through gradients: ``sigmoid(beta z)`` for ReLU (the derivative of
        ``softplus_beta``), ``2 sigmoid(beta z) - 1`` for abs (the derivative of
        ``softplus_beta(z) + softplus_beta(-z)``). None: the exact derivative is used.
    """

    name: str
    formula: str
    reference: Callable[[np.ndarray], np.ndarray]
    inplace: Callable[[np.ndarray], None]
    onnx: OnnxEmitter
    scalar: str
    symbol: str
    fill: str
    derivative: Callable[[np.ndarray], np.ndarray] | None = None
    relaxed: Callable[[np.ndarray, float], np.ndarray] | None = None

    def __repr__(self) -> str:
        return f"<Activation {self.name}: {self.formula}>"


def _identity_inplace(z: np.ndarray) -> None:
    """Nothing to do: the unit passes its pre-activation on."""


def _abs_inplace(z: np.ndarray) -> None:
    np.abs(z, out=z)


def _relu_inplace(z: np.ndarray) -> None:
    np.maximum(z, 0, out=z)


def _step_inplace(z: np.ndarray) -> None:
    z[...] = z >= 0


def _indicator_inplace(z: np.ndarray) -> None:
    # -1 <= z <= 1 is |z| <= 1; reusing z avoids a second temporary.
    np.abs(z, out=z)
    z[...] = z <= 1


def _softplus(z: np.ndarray) -> np.ndarray:
    # log(1 + e^z) = max(z, 0) + log1p(e^-|z|): exp never overflows, no NaN at any z.
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


def _softplus_inplace(z: np.ndarray) -> None:
    tail = np.log1p(np.exp(-np.abs(z)))
    np.maximum(z, 0, out=z)
    z += tail


def _sigmoid(z: np.ndarray) -> np.ndarray:
    from scipy.special import expit  # stable in both tails, keeps float32

    return expit(z)  # type: ignore[no-any-return]


def _constant(value: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda z: np.full_like(z, value, dtype=np.result_type(z, 1.0))


def _emit_cast(make_node: Callable[..., Any], test: str, y: str) -> Any:
    return make_node("Cast", [test], [y], to=1)  # 1 = onnx.TensorProto.FLOAT


def _onnx_identity(make_node, z, y, const):  # type: ignore[no-untyped-def]
    return [make_node("Identity", [z], [y])]


def _onnx_abs(make_node, z, y, const):  # type: ignore[no-untyped-def]
    return [make_node("Abs", [z], [y])]


def _onnx_relu(make_node, z, y, const):  # type: ignore[no-untyped-def]
    return [make_node("Relu", [z], [y])]


def _onnx_softplus(make_node, z, y, const):  # type: ignore[no-untyped-def]
    return [make_node("Softplus", [z], [y])]


def _onnx_step(make_node, z, y, const):  # type: ignore[no-untyped-def]
    return [
        make_node("GreaterOrEqual", [z, const(0.0)], [y + "_test"]),
        _emit_cast(make_node, y + "_test", y),
    ]


def _onnx_indicator(make_node, z, y, const):  # type: ignore[no-untyped-def]
    return [
        make_node("Abs", [z], [y + "_abs"]),
        make_node("LessOrEqual", [y + "_abs", const(1.0)], [y + "_test"]),
        _emit_cast(make_node, y + "_test", y),
    ]


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation(
            "identity",
            "z",
            lambda z: np.array(z, copy=True),
            _identity_inplace,
            _onnx_identity,
            "{z}",
            "id",
            "#f1f3f4",
            derivative=_constant(1.0),
        ),
        Activation(
            "abs",
            "|z|",
            np.abs,
            _abs_inplace,
            _onnx_abs,
            "abs({z})",
            "|z|",
            "#fff8e1",
            derivative=np.sign,
            relaxed=lambda z, beta: np.tanh(z * (beta / 2)),  # = 2 sigmoid(beta z) - 1
        ),
        Activation(
            "relu",
            "max(z, 0)",
            lambda z: np.maximum(z, 0),
            _relu_inplace,
            _onnx_relu,
            "max({z}, {zero})",
            "ReLU",
            "#fdecea",
            derivative=lambda z: (z > 0).astype(np.result_type(z, 1.0)),
            relaxed=lambda z, beta: _sigmoid(z * beta),
        ),
        Activation(
            "step",
            "1[z >= 0]",
            lambda z: (z >= 0).astype(np.result_type(z, 1.0)),
            _step_inplace,
            _onnx_step,
            "{one} if {z} >= {zero} else {zero}",
            "1[z≥0]",
            "#fdecea",
            derivative=_constant(0.0),
        ),
        Activation(
            "indicator",
            "1[-1 <= z <= 1]",
            lambda z: (np.abs(z) <= 1).astype(np.result_type(z, 1.0)),
            _indicator_inplace,
            _onnx_indicator,
            "{one} if abs({z}) <= {one} else {zero}",
            "1[|z|≤1]",
            "#ede7f6",
            derivative=_constant(0.0),
        ),
        Activation(
            # Steepness is folded into the weights: softplus_beta(z) = softplus(beta z) / beta.
            "softplus",
            "log(1 + exp(z))",
            _softplus,
            _softplus_inplace,
            _onnx_softplus,
            "max({z}, {zero}) + np.log1p(np.exp(-abs({z})))",
            "softplus",
            "#e8f5e9",
            derivative=_sigmoid,
        ),
    )
}


def activation(name: str) -> Activation:
    """The registered activation called ``name``.

    Examples
    --------
    >>> activation("relu")
    <Activation relu: max(z, 0)>
    >>> activation("relu").reference(np.array([-2.0, 3.0]))
    array([0., 3.])
    >>> activation("tanh")
    Traceback (most recent call last):
    ...
    KeyError: "unknown activation 'tanh'; known: identity, abs, relu, step, indicator, softplus"
    """
    try:
        return ACTIVATIONS[name]
    except KeyError:
        known = ", ".join(ACTIVATIONS)
        raise KeyError(f"unknown activation {name!r}; known: {known}") from None


#: Accepted steepness range. Below it ``log(2) / beta`` swamps any input; above it
#: ``1 / beta`` (an output weight) nears float32's smallest normal numbers.
MIN_STEEPNESS = 2.0**-20
MAX_STEEPNESS = 2.0**60
#: Inputs are bounded by ``RANGE / max(beta, 1)`` so ``beta * (a - b)`` stays below
#: ``2**101``: finite in float32 (max ~2**128) whatever the steepness.
RANGE = 2.0**100


def check_steepness(steepness: Any) -> float:
    """``steepness`` as a float, or a :class:`SortnetError` saying what is wrong.

    Examples
    --------
    >>> check_steepness(4)
    4.0
    >>> check_steepness(-1.0)
    Traceback (most recent call last):
    ...
    sortnet.errors.SortnetError: steepness must be a number in [2**-20, 2**60], got -1.0
    """
    message = f"steepness must be a number in [2**-20, 2**60], got {steepness!r}"
    if isinstance(steepness, (bool, str, bytes)):
        raise SortnetError(message)
    try:
        value = float(steepness)
    except (TypeError, ValueError):
        raise SortnetError(message) from None
    if not (math.isfinite(value) and MIN_STEEPNESS <= value <= MAX_STEEPNESS):
        raise SortnetError(message)
    return value


def input_bound(steepness: float) -> float:
    """Largest ``|x|`` a softplus model of this steepness accepts: ``2**100 / max(beta, 1)``.

    Min and max keep every wire value within the input range (up to
    ``depth * log(2) / beta``), so ``beta * (a - b) <= 2**101`` never overflows.

    >>> input_bound(1.0) == 2.0**100, input_bound(2.0**10) == 2.0**90
    (True, True)
    """
    return RANGE / max(float(steepness), 1.0)

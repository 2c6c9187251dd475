"""The activation registry: every per-unit activation a compiled model may use.

Each activation is defined once, here: its formula (for summaries), its symbol and
fill colour (for the ``layers`` diagrams of :mod:`sortnet.draw.layers`),
a pure reference function, an in-place numpy kernel (for the executor), an
ONNX emitter (for :meth:`~sortnet.nn.model.CompiledModel.to_onnx`) and a scalar
expression template for the generated numba kernels (:mod:`sortnet.nn.kernels`). Adding an
activation means adding one :class:`Activation` to :data:`ACTIVATIONS`; nothing
else switches on activation names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

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
    """

    name: str
    formula: str
    reference: Callable[[np.ndarray], np.ndarray]
    inplace: Callable[[np.ndarray], None]
    onnx: OnnxEmitter
    scalar: str
    symbol: str
    fill: str

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


def _emit_cast(make_node: Callable[..., Any], test: str, y: str) -> Any:
    return make_node("Cast", [test], [y], to=1)  # 1 = onnx.TensorProto.FLOAT


def _onnx_identity(make_node, z, y, const):  # type: ignore[no-untyped-def]
    return [make_node("Identity", [z], [y])]


def _onnx_abs(make_node, z, y, const):  # type: ignore[no-untyped-def]
    return [make_node("Abs", [z], [y])]


def _onnx_relu(make_node, z, y, const):  # type: ignore[no-untyped-def]
    return [make_node("Relu", [z], [y])]


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
        ),
        Activation("abs", "|z|", np.abs, _abs_inplace, _onnx_abs, "abs({z})", "|z|", "#fff8e1"),
        Activation(
            "relu",
            "max(z, 0)",
            lambda z: np.maximum(z, 0),
            _relu_inplace,
            _onnx_relu,
            "max({z}, {zero})",
            "ReLU",
            "#fdecea",
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
    KeyError: "unknown activation 'tanh'; known: identity, abs, relu, step, indicator"
    """
    try:
        return ACTIVATIONS[name]
    except KeyError:
        known = ", ".join(ACTIVATIONS)
        raise KeyError(f"unknown activation {name!r}; known: {known}") from None

"""One layer of a compiled model (:class:`Layer`) and the matrix helpers layers use.

A layer maps its input ``v`` to ``act(W @ v + b)`` (one activation per unit), or, as
a residual block, to ``skip @ v + out_weight @ act(W @ v + b)``; see
:mod:`sortnet.nn.model` for how layers stack into a model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeAlias

import numpy as np

from sortnet.nn.activations import ACTIVATIONS
from sortnet.nn.sparse_check import check_sparse

#: A weight matrix: a dense float64 ``ndarray`` or a ``scipy.sparse.csr_array``
#: (typed loosely: scipy ships no type information).
Matrix: TypeAlias = Any

__all__ = ["Layer", "Matrix", "nonzeros", "to_dense"]


def _as_matrix(value: Any, name: str) -> Matrix:
    """Dense float64 2-D array or a CSR float64 sparse array, unchanged in value."""
    if hasattr(value, "tocsr"):
        import scipy.sparse

        matrix = scipy.sparse.csr_array(check_sparse(value, name), dtype=np.float64)
        matrix.sum_duplicates()
        return matrix
    array = np.array(value, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {array.shape}")
    return array


def nonzeros(matrix: Matrix) -> int:
    """Number of non-zero entries of a dense or sparse matrix."""
    if isinstance(matrix, np.ndarray):
        return int(np.count_nonzero(matrix))
    return int(np.count_nonzero(matrix.data))


def csr(matrix: Matrix) -> Any:
    """``matrix`` as a CSR array with sorted column indices (terms in column order).

    Examples
    --------
    >>> csr(np.array([[0.0, 2.0], [1.0, 0.0]])).indices.tolist()
    [1, 0]
    """
    import scipy.sparse

    sparse = scipy.sparse.csr_array(matrix)
    sparse.sort_indices()  # terms in column order, whatever the storage
    return sparse


def to_dense(matrix: Matrix) -> np.ndarray:
    """A dense copy (a view for dense input) of ``matrix``."""
    return matrix if isinstance(matrix, np.ndarray) else matrix.toarray()


@dataclass(frozen=True, eq=False)
class Layer:
    """One layer: units ``act(W @ v + b)``, optionally wrapped in a residual block.

    Parameters
    ----------
    weight : (units, inputs) array or scipy.sparse array
    bias : (units,) array
    activations : tuple of str
        One registered activation name (:data:`sortnet.nn.activations.ACTIVATIONS`)
        per unit. Compilers order units so equal activations are contiguous.
    out_weight, skip : (outputs, units) and (outputs, inputs) matrices, optional
        Both or neither: present on a residual block, whose output is
        ``skip @ v + out_weight @ h``.
    labels : tuple of str, optional
        What each unit computes (e.g. ``"c0 |x0-x1|/2"``), for summaries and diagrams.

    Examples
    --------
    >>> layer = Layer([[0.5, -0.5], [0.5, 0.5]], [0.0, 0.0], ("abs", "identity"))
    >>> layer
    <Layer 2 -> 2 units (abs x1, identity x1)>
    >>> layer.forward(np.array([[3.0, -1.0]]))
    array([[2., 1.]])
    """

    weight: Matrix
    bias: np.ndarray
    activations: tuple[str, ...]
    out_weight: Matrix | None = None
    skip: Matrix | None = None
    labels: tuple[str, ...] | None = field(default=None)

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: normalise once, here
        set_(self, "weight", _as_matrix(self.weight, "weight"))
        set_(self, "bias", np.array(self.bias, dtype=np.float64).reshape(-1))
        set_(self, "activations", tuple(str(a) for a in self.activations))
        units, inputs = self.weight.shape
        if self.bias.shape != (units,) or len(self.activations) != units:
            raise ValueError(
                f"layer with {units} units needs {units} biases and activations, got "
                f"{self.bias.size} and {len(self.activations)}"
            )
        unknown = sorted(set(self.activations) - set(ACTIVATIONS))
        if unknown:
            raise ValueError(f"unknown activation(s) {unknown}; known: {list(ACTIVATIONS)}")
        if (self.out_weight is None) != (self.skip is None):
            raise ValueError("a residual block needs both out_weight and skip")
        if self.out_weight is not None:
            set_(self, "out_weight", _as_matrix(self.out_weight, "out_weight"))
            set_(self, "skip", _as_matrix(self.skip, "skip"))
            if self.out_weight.shape[1] != units or self.skip.shape != (  # type: ignore[union-attr]
                self.out_weight.shape[0],
                inputs,
            ):
                raise ValueError("out_weight must be (outputs, units) and skip (outputs, inputs)")
        if self.labels is not None:
            set_(self, "labels", tuple(str(label) for label in self.labels))
            if len(self.labels) != units:
                raise ValueError(f"{len(self.labels)} labels for {units} units")

    # -- shape --------------------------------------------------------------------
    @property
    def inputs(self) -> int:
        """Width of the layer's input."""
        return int(self.weight.shape[1])

    @property
    def units(self) -> int:
        """Number of units (rows of ``weight``)."""
        return int(self.weight.shape[0])

    @property
    def outputs(self) -> int:
        """Width of the layer's output (``units`` for a plain layer)."""
        return self.units if self.out_weight is None else int(self.out_weight.shape[0])

    @property
    def residual(self) -> bool:
        """True for a residual block (explicit skip connection)."""
        return self.out_weight is not None

    @property
    def groups(self) -> list[tuple[str, int, int]]:
        """Runs of equal activations as ``(name, start, stop)``, in unit order.

        >>> Layer(np.zeros((3, 1)), np.zeros(3), ("abs", "abs", "identity")).groups
        [('abs', 0, 2), ('identity', 2, 3)]
        """
        runs: list[tuple[str, int, int]] = []
        for unit, name in enumerate(self.activations):
            if runs and runs[-1][0] == name:
                runs[-1] = (name, runs[-1][1], unit + 1)
            else:
                runs.append((name, unit, unit + 1))
        return runs

    @property
    def nonlinear(self) -> bool:
        """True when some unit is not the identity (a hidden layer)."""
        return any(name != "identity" for name in self.activations)

    def matrices(self) -> dict[str, Matrix]:
        """The layer's weight matrices by name (``weight``, and ``out_weight``/``skip``)."""
        found = {"weight": self.weight}
        if self.out_weight is not None and self.skip is not None:
            found.update(out_weight=self.out_weight, skip=self.skip)
        return found

    @property
    def parameters(self) -> int:
        """Number of parameters counted densely (all weights and biases)."""
        return sum(m.shape[0] * m.shape[1] for m in self.matrices().values()) + self.units

    @property
    def nonzeros(self) -> int:
        """Number of non-zero weights and biases."""
        return sum(nonzeros(m) for m in self.matrices().values()) + nonzeros(self.bias[None])

    # -- reference semantics --------------------------------------------------------
    def forward(self, V: np.ndarray) -> np.ndarray:
        """Reference computation on a row batch ``V`` of shape ``(batch, inputs)``.

        Straightforward and slow; :mod:`sortnet.nn.executor` runs the same arithmetic fast.
        """
        Z = np.asarray(V @ self.weight.T) + self.bias
        H = np.empty_like(Z)
        for name, start, stop in self.groups:
            H[:, start:stop] = ACTIVATIONS[name].reference(Z[:, start:stop])
        if self.out_weight is None or self.skip is None:
            return H
        return np.asarray(V @ self.skip.T) + np.asarray(H @ self.out_weight.T)

    def __repr__(self) -> str:
        counts: dict[str, int] = {}
        for name in self.activations:
            counts[name] = counts.get(name, 0) + 1
        acts = ", ".join(f"{name} x{count}" for name, count in counts.items())
        kind = f", residual -> {self.outputs}" if self.residual else ""
        return f"<Layer {self.inputs} -> {self.units} units ({acts}){kind}>"

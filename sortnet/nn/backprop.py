"""The reverse-mode engine behind :mod:`sortnet.nn.autodiff`: one chunk of rows at a time.

A chunk's forward pass keeps, per layer, its input and ``act'(z)`` (and ``act(z)``
when parameter gradients are wanted); rows that hit a kink exactly (``z == 0`` at a
ReLU or abs unit) are redone with a forward tangent in direction ``(1, ..., n)``,
which picks the one-sided derivative (the stable-ties rule of
:mod:`sortnet.nn.autodiff`). The reverse sweep sends upstream gradients back through
each layer and, for :func:`sortnet.nn.autodiff.grad`, accumulates ``G.T @ V`` per
matrix in float64 (dense, or on a sparse matrix's pattern). Matrices are used
dense or CSR by the executor's rule.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np

from sortnet.errors import InputError
from sortnet.nn.activations import ACTIVATIONS, Activation
from sortnet.nn.layer import Matrix, to_dense

if TYPE_CHECKING:
    from sortnet.nn.model import CompiledModel


class Product:
    """One matrix ``M`` in the run dtype, for ``V @ M.T`` (forward) and ``G @ M`` (backward)."""

    def __init__(self, matrix: Matrix, dtype: np.dtype) -> None:
        import scipy.sparse

        rows, cols = matrix.shape
        nnz = np.count_nonzero(matrix) if isinstance(matrix, np.ndarray) else matrix.nnz
        self.identity = (
            rows == cols and nnz == rows and np.array_equal(to_dense(matrix), np.eye(rows))
        )
        # CSR both ways, as the executor (the same terms in the same order, whatever the
        # number of rows: BLAS picks its summation order by it).
        self.csr = scipy.sparse.csr_array(matrix, dtype=dtype)
        self.csr_t = scipy.sparse.csr_array(self.csr.T)

    def forward(self, V: np.ndarray) -> np.ndarray:
        if self.identity:
            return V
        return np.asarray((self.csr @ V.T).T)

    def backward(self, G: np.ndarray) -> np.ndarray:
        if self.identity:
            return G
        return np.asarray((self.csr_t @ G.T).T)


@dataclass
class Step:
    weight: Product
    bias: np.ndarray | None
    groups: list[tuple[Activation, int, int]]
    out_weight: Product | None
    skip: Product | None


_PLANS: weakref.WeakKeyDictionary[CompiledModel, dict[Any, list[Step]]] = (
    weakref.WeakKeyDictionary()
)


def plan(model: CompiledModel, dtype: np.dtype) -> list[Step]:
    plans = _PLANS.setdefault(model, {})
    if dtype not in plans:
        plans[dtype] = [
            Step(
                weight=Product(layer.weight, dtype),
                bias=layer.bias.astype(dtype) if np.any(layer.bias) else None,
                groups=[(ACTIVATIONS[name], start, stop) for name, start, stop in layer.groups],
                out_weight=None if layer.out_weight is None else Product(layer.out_weight, dtype),
                skip=None if layer.skip is None else Product(layer.skip, dtype),
            )
            for layer in model.layers
        ]
    return plans[dtype]


@cache
def _kinked(name: str) -> bool:
    """True when the activation's derivative jumps at 0 (relu, abs): ties need the tangent rule."""
    act = ACTIVATIONS[name]
    if act.derivative is None:
        return False
    tiny = np.array([-1e-300, 1e-300])
    left, right = act.derivative(tiny)
    return bool(left != right)


def _derivative(act: Activation, Z: np.ndarray, beta: float | None) -> np.ndarray:
    if act.derivative is None:
        raise InputError(f"activation {act.name!r} has no derivative")
    if beta is not None and act.relaxed is not None:
        return np.asarray(act.relaxed(Z, beta), dtype=Z.dtype)
    return np.asarray(act.derivative(Z), dtype=Z.dtype)


@dataclass
class Record:
    """What the backward pass needs of one layer: its input, act'(z) and (for grad) act(z)."""

    inputs: np.ndarray
    slope: np.ndarray
    hidden: np.ndarray | None


def _forward(
    steps: list[Step], X: np.ndarray, beta: float | None, *, keep_hidden: bool, tangent: bool
) -> tuple[list[Record], np.ndarray]:
    """Forward pass of a chunk, keeping each layer's record; also returns rows with kinks hit.

    With ``tangent``, a forward tangent in direction ``(1, ..., n)`` rides along
    and decides the side of every kink hit exactly (see the module notes).
    """
    records = []
    V = X
    T = np.broadcast_to(np.arange(1, X.shape[1] + 1, dtype=X.dtype), X.shape) if tangent else None
    tied = np.zeros(X.shape[0], dtype=bool)
    tiny = np.finfo(X.dtype).tiny
    for step in steps:
        Z = step.weight.forward(V)
        if step.bias is not None:
            Z = Z + step.bias
        elif Z is V:  # an identity weight: Z becomes H in place, V is kept in the record
            Z = Z.copy()
        D = np.empty_like(Z)
        TZ = None if T is None else step.weight.forward(T)
        for act, start, stop in step.groups:
            part = Z[:, start:stop]
            if act.name == "identity":  # the common output layer: nothing to compute
                D[:, start:stop] = 1
                continue
            D[:, start:stop] = _derivative(act, part, beta)
            # np.all is one cheap pass; rows are only looked at when some z is exactly 0
            if beta is None and _kinked(act.name) and not np.all(part):
                at_kink = part == 0
                tied |= at_kink.any(axis=1)
                if TZ is not None:
                    side = np.where(at_kink, np.sign(TZ[:, start:stop]) * tiny, part)
                    D[:, start:stop] = _derivative(act, side, None)
            act.inplace(part)  # z is not needed past its derivative: H overwrites it
        H = Z
        records.append(Record(V, D, H if keep_hidden else None))
        if step.out_weight is None or step.skip is None:
            V = H
            T = None if TZ is None else D * TZ
        else:
            V = step.skip.forward(V) + step.out_weight.forward(H)
            if TZ is not None and T is not None:
                T = step.skip.forward(T) + step.out_weight.forward(D * TZ)
    return records, tied


def forward_records(
    steps: list[Step], X: np.ndarray, beta: float | None, *, keep_hidden: bool
) -> list[Record]:
    """Forward records of a chunk; rows that hit a kink exactly are redone with the tangent."""
    records, tied = _forward(steps, X, beta, keep_hidden=keep_hidden, tangent=False)
    if tied.any():  # ties are rare on real data: redo only those rows
        rows = np.flatnonzero(tied)
        redone, _ = _forward(steps, X[rows], beta, keep_hidden=False, tangent=True)
        for record, fix in zip(records, redone, strict=True):
            record.slope[rows] = fix.slope
    return records


def backward(
    steps: list[Step],
    records: list[Record],
    G: np.ndarray,
    copies: int,
    grads: list[dict[str, Any]] | None = None,
) -> np.ndarray:
    """Send ``G`` (``rows * copies`` upstream gradients, ``copies`` per row) back to the input."""
    for index in range(len(steps) - 1, -1, -1):
        step, record = steps[index], records[index]
        residual = step.out_weight is not None and step.skip is not None
        GH = step.out_weight.backward(G) if step.out_weight is not None else G
        rows, units = record.slope.shape
        GZ = (GH.reshape(rows, copies, units) * record.slope[:, None, :]).reshape(-1, units)
        if grads is not None:  # copies == 1 here
            slot = grads[index]
            slot["weight"].add(GZ, record.inputs)
            slot["bias"] += GZ.sum(axis=0, dtype=np.float64)
            if residual:
                slot["out_weight"].add(G, record.hidden)
                slot["skip"].add(G, record.inputs)
        back = step.weight.backward(GZ)
        G = back + step.skip.backward(G) if residual and step.skip is not None else back
    return G


class Accumulator:
    """``sum over chunks of G.T @ V`` in float64, dense or on a sparse matrix's pattern."""

    def __init__(self, matrix: Matrix) -> None:
        self.matrix = matrix
        if isinstance(matrix, np.ndarray):
            self.total: np.ndarray = np.zeros(matrix.shape)
        else:
            coo = matrix.tocoo()
            self.rows, self.cols = coo.row, coo.col
            self.total = np.zeros(self.rows.size)

    def add(self, G: np.ndarray, V: np.ndarray | None) -> None:
        assert V is not None
        if isinstance(self.matrix, np.ndarray):
            self.total += G.T.astype(np.float64) @ V.astype(np.float64)
            return
        block = 4096  # entries per pass: bounds the (rows x block) temporaries
        for first in range(0, self.rows.size, block):
            r, c = self.rows[first : first + block], self.cols[first : first + block]
            self.total[first : first + block] += np.einsum(
                "ij,ij->j", G[:, r].astype(np.float64), V[:, c].astype(np.float64)
            )

    def merge(self, other: Accumulator) -> None:
        self.total += other.total

    def result(self) -> Matrix:
        if isinstance(self.matrix, np.ndarray):
            return self.total
        import scipy.sparse

        pattern = scipy.sparse.csr_array(
            (self.total, (self.rows, self.cols)), shape=self.matrix.shape
        )
        pattern.sort_indices()
        return pattern

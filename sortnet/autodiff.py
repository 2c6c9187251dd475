"""Gradients through compiled models (numpy engine): :func:`vjp`, :func:`jacobian`, :func:`grad`.

Reverse mode through the layers of a :class:`~sortnet.model.CompiledModel`. A
plain layer ``y = act(z)``, ``z = W v + b`` sends an upstream gradient ``g`` back
as ``W.T (act'(z) * g)``; a residual block ``y = S v + U act(z)`` as
``S.T g + W.T (act'(z) * (U.T g))``. Activation derivatives come from the
registry (:attr:`sortnet.activations.Activation.derivative`). Rows run in chunks
(memory stays bounded: a chunk keeps each layer's input and ``act'(z)``), on a
few threads, with the input checks and dtype rules of ``model(X)``.

Exact mode (``steepness=None``)
    For the ``abs``, ``relu`` and ``residual`` lowerings the model is piecewise
    linear and equals ``sort`` (or the k-th smallest), so on a row with distinct
    values its Jacobian is the permutation matrix of ``argsort`` (a k-th model:
    the one-hot of the k-th index), with exact 0/1 entries. **Ties**: at a kink
    (a ReLU or abs unit with ``z == 0``) the derivative is taken one-sided, in the
    direction ``x + eps * (1, 2, ..., n)`` (``eps -> 0+``): the unit's forward
    tangent in that direction decides the side. That direction orders tied
    values by index, so the Jacobian is the permutation matrix of the **stable**
    argsort (the limit of the Jacobian at ``x + eps * (1, ..., n)``, an element
    of the Clarke Jacobian). The plain conventions ``relu'(0) = abs'(0) = 0``
    would not do: with them the relu lowering's carry ``relu(x) - relu(-x)`` has
    derivative 0 at ``x = 0`` and a tied comparator keeps its inputs in place,
    which is not stable (nor a permutation for the relu lowering). They remain
    the fallback when the tangent is 0 too (never for compiled comparator models,
    whose tangents are sums of distinct positive integers). The tie rule needs
    the forward values to be exact, as they are on integers below ``2**(p - 2)``
    (the model's exactness contract); rounding can turn a tie into a tiny gap.
Straight-through (``steepness=beta``, Kim et al., ICLR 2024)
    The forward pass stays exact; each ReLU's derivative becomes
    ``sigmoid(beta z)`` and abs's ``2 sigmoid(beta z) - 1`` (the registry's
    ``relaxed``). The ``abs`` and ``relu`` lowerings see a comparator's gap halved
    (``z = (a - b) / 2``), so for them ``beta`` is doubled per unit: every
    comparator then has the backward Jacobian ``[[1 - p, p], [p, 1 - p]]``,
    ``p = sigmoid(beta (a - b))``, the Jacobian of the ``softplus`` lowering at
    the same ``beta``. Doubly stochastic with entries in ``[0, 1]``; tends to the
    exact Jacobian as ``beta`` grows (on rows without ties). Units without a
    relaxation (identity, softplus, step, indicator) keep their exact derivative;
    ``step`` and ``indicator`` (counting models) have derivative 0, so counting
    models get zero input gradients in both modes.
"""

from __future__ import annotations

import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from sortnet._blas import set_thread_local_blas_threads
from sortnet.activations import ACTIVATIONS, Activation
from sortnet.errors import InputError
from sortnet.executor import (
    SPARSE_MAX_DENSITY,
    SPARSE_MIN_SIZE,
    _check_input,
    _limit,
    _refusal,
    default_threads,
)
from sortnet.model import CompiledModel, Matrix, to_dense

__all__ = ["LayerGrad", "grad", "jacobian", "vjp"]

#: Target bytes a chunk keeps for its backward pass (layer inputs and act'(z)).
CHUNK_BYTES = 1 << 22
#: Per-unit straight-through steepness is ``steepness / scale`` where ``scale`` is
#: the factor a lowering's comparator units apply to the gap ``a - b``
#: (``compilers.gadgets``: ``|x_i - x_j| / 2`` and ``relu(+-(x_i - x_j) / 2)``).
GAP_SCALE = {"abs": 0.5, "relu": 0.5}


@dataclass(frozen=True)
class LayerGrad:
    """Gradients of one layer's parameters (``None`` where the layer has no such matrix).

    Each gradient has the storage of its parameter: a dense ``ndarray`` for a dense
    matrix; for a CSR matrix a CSR array with the **same sparsity pattern**,
    holding the gradient of the stored entries only (fine-tuning then keeps the
    pattern; the gradient of structural zeros is not computed). float64 always.
    """

    weight: Matrix
    bias: np.ndarray
    out_weight: Matrix | None = None
    skip: Matrix | None = None


class _Matrix:
    """One matrix ``M`` in the run dtype, for ``V @ M.T`` (forward) and ``G @ M`` (backward)."""

    def __init__(self, matrix: Matrix, dtype: np.dtype) -> None:
        rows, cols = matrix.shape
        size = rows * cols
        nnz = np.count_nonzero(matrix) if isinstance(matrix, np.ndarray) else matrix.nnz
        self.identity = (
            rows == cols and nnz == rows and np.array_equal(to_dense(matrix), np.eye(rows))
        )
        self.sparse = size >= SPARSE_MIN_SIZE and nnz <= SPARSE_MAX_DENSITY * size
        if self.sparse:  # the executor's rule, so products add the same terms
            import scipy.sparse

            self.csr = scipy.sparse.csr_array(matrix, dtype=dtype)
            self.csr_t = scipy.sparse.csr_array(self.csr.T)
        else:
            self.dense = np.ascontiguousarray(to_dense(matrix), dtype=dtype)
            self.dense_t = np.ascontiguousarray(self.dense.T)

    def forward(self, V: np.ndarray) -> np.ndarray:
        if self.identity:
            return V
        return np.asarray((self.csr @ V.T).T) if self.sparse else V @ self.dense_t

    def backward(self, G: np.ndarray) -> np.ndarray:
        if self.identity:
            return G
        return np.asarray((self.csr_t @ G.T).T) if self.sparse else G @ self.dense


@dataclass
class _Step:
    weight: _Matrix
    bias: np.ndarray | None
    groups: list[tuple[Activation, int, int]]
    out_weight: _Matrix | None
    skip: _Matrix | None


_PLANS: weakref.WeakKeyDictionary[CompiledModel, dict[Any, list[_Step]]] = (
    weakref.WeakKeyDictionary()
)


def _plan(model: CompiledModel, dtype: np.dtype) -> list[_Step]:
    plans = _PLANS.setdefault(model, {})
    if dtype not in plans:
        plans[dtype] = [
            _Step(
                weight=_Matrix(layer.weight, dtype),
                bias=layer.bias.astype(dtype) if np.any(layer.bias) else None,
                groups=[(ACTIVATIONS[name], start, stop) for name, start, stop in layer.groups],
                out_weight=None if layer.out_weight is None else _Matrix(layer.out_weight, dtype),
                skip=None if layer.skip is None else _Matrix(layer.skip, dtype),
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
class _Record:
    """What the backward pass needs of one layer: its input, act'(z) and (for grad) act(z)."""

    inputs: np.ndarray
    slope: np.ndarray
    hidden: np.ndarray | None


def _forward(
    steps: list[_Step], X: np.ndarray, beta: float | None, *, keep_hidden: bool, tangent: bool
) -> tuple[list[_Record], np.ndarray]:
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
        H = np.array(Z, copy=True)
        D = np.empty_like(H)
        TZ = None if T is None else step.weight.forward(T)
        for act, start, stop in step.groups:
            part = Z[:, start:stop]
            if act.name == "identity":  # the common output layer: nothing to compute
                D[:, start:stop] = 1
                continue
            act.inplace(H[:, start:stop])
            D[:, start:stop] = _derivative(act, part, beta)
            # np.all is one cheap pass; rows are only looked at when some z is exactly 0
            if beta is None and _kinked(act.name) and not np.all(part):
                at_kink = part == 0
                tied |= at_kink.any(axis=1)
                if TZ is not None:
                    side = np.where(at_kink, np.sign(TZ[:, start:stop]) * tiny, part)
                    D[:, start:stop] = _derivative(act, side, None)
        records.append(_Record(V, D, H if keep_hidden else None))
        if step.out_weight is None or step.skip is None:
            V = H
            T = None if TZ is None else D * TZ
        else:
            V = step.skip.forward(V) + step.out_weight.forward(H)
            if TZ is not None and T is not None:
                T = step.skip.forward(T) + step.out_weight.forward(D * TZ)
    return records, tied


def _records(
    steps: list[_Step], X: np.ndarray, beta: float | None, *, keep_hidden: bool
) -> list[_Record]:
    """Forward records of a chunk; rows that hit a kink exactly are redone with the tangent."""
    records, tied = _forward(steps, X, beta, keep_hidden=keep_hidden, tangent=False)
    if tied.any():  # ties are rare on real data: redo only those rows
        rows = np.flatnonzero(tied)
        redone, _ = _forward(steps, X[rows], beta, keep_hidden=False, tangent=True)
        for record, fix in zip(records, redone, strict=True):
            record.slope[rows] = fix.slope
    return records


def _backward(
    steps: list[_Step],
    records: list[_Record],
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


class _Accumulator:
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

    def merge(self, other: _Accumulator) -> None:
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


def _check_steepness(steepness: Any) -> float | None:
    if steepness is None:
        return None
    from sortnet.soft import check_steepness

    return check_steepness(steepness)


def _check_upstream(dY: Any, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    try:
        array = np.asarray(dY)
    except ValueError as error:
        raise InputError(f"dY must be a rectangular array of shape {shape}: {error}") from None
    if array.dtype.kind not in "biuf":
        raise InputError(f"dY must hold real numbers, got dtype {array.dtype}")
    if array.shape != shape:
        raise InputError(f"dY has shape {array.shape} but model(X) has shape {shape}")
    converted = np.ascontiguousarray(array, dtype=dtype)
    if not np.isfinite(converted).all():
        raise InputError("dY contains NaN or an infinity")
    return converted


def _chunking(
    model: CompiledModel,
    array: np.ndarray,
    chunk_rows: int | None,
    threads: int | None,
    copies: int,
) -> tuple[list[int], int, int]:
    batch = array.shape[0]
    if chunk_rows is None:
        width = model.n + sum(layer.inputs + layer.units for layer in model.layers)
        chunk_rows = max(16, CHUNK_BYTES // (width * copies * array.dtype.itemsize))
    chunk_rows = max(1, min(int(chunk_rows), max(batch, 1)))
    starts = list(range(0, batch, chunk_rows))
    count = max(1, min(default_threads() if threads is None else int(threads), len(starts)))
    return starts, chunk_rows, count


def _parallel(
    model: CompiledModel,
    array: np.ndarray,
    starts: list[int],
    chunk_rows: int,
    threads: int,
    work: Any,
    state: Any,
) -> list[Any]:
    """Run ``work(state_i, start, chunk)`` over the chunks; return each thread's state."""
    limit, reason = _limit(model, array.dtype)

    def thread(part: int) -> tuple[Any, tuple[int, InputError] | None]:
        if threads > 1:
            set_thread_local_blas_threads(1)
        own = state()
        for start in starts[part::threads]:
            chunk = array[start : start + chunk_rows]
            # min/max propagate NaN: two reductions screen NaN, inf and out-of-range.
            if not (chunk.min() >= -limit and chunk.max() <= limit):
                return own, (start, _refusal(chunk, start, limit, reason))
            work(own, start, chunk)
        return own, None

    if threads == 1:
        outcomes = [thread(0)]
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            outcomes = list(pool.map(thread, range(threads)))
    refused = [failure for _, failure in outcomes if failure is not None]
    if refused:
        raise min(refused, key=lambda failure: failure[0])[1]
    return [own for own, _ in outcomes]


def vjp(
    model: CompiledModel,
    X: Any,
    dY: Any,
    *,
    steepness: float | None = None,
    dtype: Any = None,
    chunk_rows: int | None = None,
    threads: int | None = None,
) -> np.ndarray:
    """Vector-Jacobian product: ``dL/dX`` given ``dY = dL/dY``, where ``Y = model(X)``.

    Parameters
    ----------
    model : CompiledModel
    X : array_like, shape (batch, n) or (n,)
        Checked as by ``model(X)`` (shape, width, NaN, infinities, bound).
    dY : array_like, shape of ``model(X)``
    steepness : float, optional
        Straight-through gradients at this ``beta`` (see the module notes):
        exact forward pass, softplus-relaxed backward pass. Default: exact.
    dtype : {None, float32, float64}
        Precision, as for ``model(X)`` (default: that of ``X``).
    chunk_rows, threads : int, optional
        Rows per chunk and worker threads (defaults bound memory to a few MiB
        per thread); results do not depend on them.

    Returns
    -------
    ndarray, shape of ``X`` (2-D, or 1-D for 1-D ``X``), in the run dtype

    Examples
    --------
    >>> import compilers, sortnet
    >>> model = compilers.compile(sortnet.network("bubble", 3), "residual")
    >>> vjp(model, [[3.0, 1.0, 2.0]], [[10.0, 20.0, 30.0]])  # dY of sorted 1, 2, 3
    array([[30., 10., 20.]])
    >>> vjp(model, [[2.0, 2.0, 1.0]], [[10.0, 20.0, 30.0]])  # ties: stable argsort [2, 0, 1]
    array([[20., 30., 10.]])
    >>> vjp(model, [[3.0, 1.0, 2.0]], [[10.0, 20.0, 30.0]], steepness=1.0).round(2)
    array([[24.93, 14.35, 20.72]])
    """
    beta = _check_steepness(steepness)
    array, single = _check_input(model, X, dtype)
    expected = (model.n_outputs,) if single else (array.shape[0], model.n_outputs)
    upstream = _check_upstream(dY, expected, array.dtype).reshape(array.shape[0], -1)
    steps = _plan(model, array.dtype)
    beta = _unit_steepness(model, beta)
    result = np.empty_like(array)
    starts, rows, count = _chunking(model, array, chunk_rows, threads, 1)

    def work(_: Any, start: int, chunk: np.ndarray) -> None:
        records = _records(steps, chunk, beta, keep_hidden=False)
        G = upstream[start : start + chunk.shape[0]]
        result[start : start + chunk.shape[0]] = _backward(steps, records, G, 1)

    _parallel(model, array, starts, rows, count, work, lambda: None)
    return result[0] if single else result


def jacobian(
    model: CompiledModel,
    X: Any,
    *,
    steepness: float | None = None,
    dtype: Any = None,
    chunk_rows: int | None = None,
    threads: int | None = None,
) -> np.ndarray:
    """The Jacobian at each row of ``X``: ``J[r, o, i] = d model(X)[r, o] / d X[r, i]``.

    Same parameters as :func:`vjp` (without ``dY``). For a sorting model of the
    ``abs``, ``relu`` or ``residual`` lowering, ``J[r]`` is the permutation matrix
    of the stable argsort of ``X[r]``; for the ``softplus`` lowering it is a soft
    permutation matrix (:func:`sortnet.soft.soft_permutation`).

    Returns
    -------
    ndarray, shape (batch, n_outputs, n) (or (n_outputs, n) for 1-D ``X``)

    Examples
    --------
    >>> import compilers, sortnet
    >>> model = compilers.compile(sortnet.network("bitonic", 4), "relu")
    >>> jacobian(model, [0.5, -2.0, 7.0, 0.5])  # stable argsort: [1, 0, 3, 2]
    array([[0., 1., 0., 0.],
           [1., 0., 0., 0.],
           [0., 0., 0., 1.],
           [0., 0., 1., 0.]])
    >>> jacobian(compilers.compile(sortnet.network("bitonic", 4), k=2), [0.5, -2.0, 7.0, 0.5])
    array([[1., 0., 0., 0.]])
    """
    beta = _check_steepness(steepness)
    array, single = _check_input(model, X, dtype)
    steps = _plan(model, array.dtype)
    beta = _unit_steepness(model, beta)
    outputs = model.n_outputs
    result = np.empty((array.shape[0], outputs, model.n), dtype=array.dtype)
    starts, rows, count = _chunking(model, array, chunk_rows, threads, outputs)
    eye = np.eye(outputs, dtype=array.dtype)

    def work(_: Any, start: int, chunk: np.ndarray) -> None:
        records = _records(steps, chunk, beta, keep_hidden=False)
        G = np.tile(eye, (chunk.shape[0], 1))  # one unit upstream gradient per output
        back = _backward(steps, records, G, outputs)
        result[start : start + chunk.shape[0]] = back.reshape(chunk.shape[0], outputs, model.n)

    _parallel(model, array, starts, rows, count, work, lambda: None)
    return result[0] if single else result


def grad(
    model: CompiledModel,
    X: Any,
    dY: Any,
    *,
    steepness: float | None = None,
    dtype: Any = None,
    chunk_rows: int | None = None,
    threads: int | None = None,
) -> list[LayerGrad]:
    """Gradients of ``L`` with respect to every layer's parameters, given ``dY = dL/dY``.

    ``L`` is summed over the batch: ``grad(...)[l].weight = sum_r dL/dW_l`` at
    row ``r``. Same parameters and checks as :func:`vjp`; chunks are computed in
    the run dtype and summed in float64.

    Returns
    -------
    list of LayerGrad
        One per ``model.layers``, in order: ``weight``, ``bias`` and for residual
        blocks ``out_weight`` and ``skip``; each stored like its parameter (dense,
        or CSR on the parameter's sparsity pattern).

    Examples
    --------
    >>> import compilers, sortnet
    >>> model = compilers.compile(sortnet.network("bubble", 2), "residual")
    >>> layer_grad = grad(model, [[3.0, 1.0]], [[1.0, 0.0]])[0]  # d min / d params
    >>> layer_grad.weight, layer_grad.bias, layer_grad.out_weight
    (array([[-3., -1.]]), array([-1.]), array([[2.],
           [0.]]))
    """
    beta = _check_steepness(steepness)
    array, single = _check_input(model, X, dtype)
    expected = (model.n_outputs,) if single else (array.shape[0], model.n_outputs)
    upstream = _check_upstream(dY, expected, array.dtype).reshape(array.shape[0], -1)
    steps = _plan(model, array.dtype)
    beta = _unit_steepness(model, beta)
    starts, rows, count = _chunking(model, array, chunk_rows, threads, 1)

    def fresh() -> list[dict[str, Any]]:
        return [
            {
                "bias": np.zeros(layer.units),
                **{name: _Accumulator(matrix) for name, matrix in layer.matrices().items()},
            }
            for layer in model.layers
        ]

    def work(own: list[dict[str, Any]], start: int, chunk: np.ndarray) -> None:
        records = _records(steps, chunk, beta, keep_hidden=True)
        _backward(steps, records, upstream[start : start + chunk.shape[0]], 1, own)

    states = _parallel(model, array, starts, rows, count, work, fresh)
    total = states[0]
    for other in states[1:]:
        for mine, theirs in zip(total, other, strict=True):
            mine["bias"] += theirs["bias"]
            for name, value in mine.items():
                if name != "bias":
                    value.merge(theirs[name])
    return [
        LayerGrad(
            weight=slot["weight"].result(),
            bias=slot["bias"],
            out_weight=slot["out_weight"].result() if "out_weight" in slot else None,
            skip=slot["skip"].result() if "skip" in slot else None,
        )
        for slot in total
    ]


def _unit_steepness(model: CompiledModel, beta: float | None) -> float | None:
    """The per-unit straight-through steepness (see :data:`GAP_SCALE`)."""
    if beta is None:
        return None
    return beta / GAP_SCALE.get(model.lowering or "", 1.0)

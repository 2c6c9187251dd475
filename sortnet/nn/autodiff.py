"""Gradients through compiled models (numpy engine): :func:`vjp`, :func:`jacobian`, :func:`grad`.

Reverse mode through the layers of a :class:`~sortnet.nn.model.CompiledModel`. A
plain layer ``y = act(z)``, ``z = W v + b`` sends an upstream gradient ``g`` back
as ``W.T (act'(z) * g)``; a residual block ``y = S v + U act(z)`` as
``S.T g + W.T (act'(z) * (U.T g))``. Activation derivatives come from the
registry (:attr:`sortnet.nn.activations.Activation.derivative`); the chunk engine is
:mod:`sortnet.backprop`. Rows run in chunks (memory stays bounded: a chunk keeps
each layer's input and ``act'(z)``), on a few threads, with the input checks and
dtype rules of ``model(X)``.

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
    would not do: with them a tied ``residual`` comparator keeps its inputs in
    place (a permutation, but not the stable one: sorting networks are not
    stable), a tied ``abs`` comparator averages them (``[[1/2, 1/2], [1/2, 1/2]]``)
    and the ``relu`` lowering's carry ``relu(x) - relu(-x)`` has derivative 0 at
    ``x = 0`` (not even doubly stochastic). They remain the fallback when the
    tangent is 0 too, which never happens in compiled comparator models (a unit's
    tangent is a sum or difference of two distinct numbers of ``1..n``, or one
    of them). The tie rule needs
    the forward values to be exact, as they are on integers below ``2**(p - 2)``
    (the model's exactness contract); rounding can turn a tie into a tiny gap.
Straight-through (``steepness=beta``, Kim et al., ICLR 2024)
    The forward pass stays exact; each ReLU's derivative becomes
    ``sigmoid(beta z)`` and abs's ``2 sigmoid(beta z) - 1`` (the registry's
    ``relaxed``). The ``abs`` and ``relu`` lowerings see a comparator's gap halved
    (``z = (a - b) / 2``), so for them ``beta`` is doubled per unit: every
    comparator then has the backward Jacobian ``[[1 - p, p], [p, 1 - p]]``,
    ``p = sigmoid(beta (a - b))`` at the exact comparator inputs: the comparator
    Jacobian of the ``softplus`` lowering at the same ``beta``. Doubly stochastic
    with entries in ``[0, 1]``; tends to the exact Jacobian as ``beta`` grows (on
    rows without ties). Units without a
    relaxation (identity, softplus, step, indicator) keep their exact derivative;
    ``step`` and ``indicator`` have derivative 0 (their jumps are ignored).
Counting models: their thresholds are piecewise constant, but the big-M gates pass
each ``x`` through linearly, so their exact Jacobian is the stable-argsort
permutation too (the tests check it); straight-through relaxes their gating ReLUs,
which gives no soft permutation (not a supported use).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from sortnet.errors import InputError
from sortnet.nn._blas import set_thread_local_blas_threads
from sortnet.nn.backprop import Accumulator, backward, forward_records, plan
from sortnet.nn.executor import _limit, _refusal, check_input, default_threads
from sortnet.nn.layer import Matrix
from sortnet.nn.vjp_numba import CHUNK_ROWS, chunk_work, use_numba

if TYPE_CHECKING:
    from sortnet.nn.model import CompiledModel

__all__ = ["LayerGrad", "grad", "jacobian", "vjp"]

#: Target bytes a chunk keeps for its backward pass (layer inputs and act'(z)).
CHUNK_BYTES = 1 << 21
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


def _check_steepness(steepness: Any) -> float | None:
    if steepness is None:
        return None
    from sortnet.nn.activations import check_steepness

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
    engine: str | None = None,
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
    engine : {None, "auto", "numba", "numpy"}
        As for ``model(X)``: None reads ``$SORTNET_KERNEL``; ``"auto"`` runs the
        numba reverse-mode kernel (:mod:`sortnet.nn.vjp_numba`) when numba is
        installed and the batch is large or the kernel is compiled. Same results
        (ties included) up to summation order; ``steepness`` runs on numpy only.

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
    array, single = check_input(model, X, dtype)
    expected = (model.n_outputs,) if single else (array.shape[0], model.n_outputs)
    upstream = _check_upstream(dY, expected, array.dtype).reshape(array.shape[0], -1)
    result = np.empty_like(array)
    if use_numba(model, array, engine, beta):
        starts, rows, count = _chunking(model, array, chunk_rows or CHUNK_ROWS, threads, 1)
        _parallel(model, array, starts, rows, count, chunk_work(model, upstream, result), dict)
        return result[0] if single else result
    steps = plan(model, array.dtype)
    beta = _unit_steepness(model, beta)
    starts, rows, count = _chunking(model, array, chunk_rows, threads, 1)

    def work(_: Any, start: int, chunk: np.ndarray) -> None:
        kept = forward_records(steps, chunk, beta, keep_hidden=False)
        G = upstream[start : start + chunk.shape[0]]
        result[start : start + chunk.shape[0]] = backward(steps, kept, G, 1)

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
    engine: str | None = None,
) -> np.ndarray:
    """The Jacobian at each row of ``X``: ``J[r, o, i] = d model(X)[r, o] / d X[r, i]``.

    Same parameters as :func:`vjp` (without ``dY``). For a sorting model of the
    ``abs``, ``relu`` or ``residual`` lowering, ``J[r]`` is the permutation matrix
    of the stable argsort of ``X[r]``; for the ``softplus`` lowering it is a soft
    permutation matrix (:func:`sortnet.nn.soft.soft_permutation`).

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
    array, single = check_input(model, X, dtype)
    outputs = model.n_outputs
    if use_numba(model, array, engine, beta):  # vjp of each row repeated, one-hot dY
        eye = np.tile(np.eye(outputs, dtype=array.dtype), (array.shape[0], 1))
        back = vjp(
            model,
            np.repeat(array, outputs, axis=0),
            eye,
            engine="numba",
            threads=threads,
            chunk_rows=chunk_rows,
        )
        back = back.reshape(array.shape[0], outputs, model.n)
        return back[0] if single else back
    steps = plan(model, array.dtype)
    beta = _unit_steepness(model, beta)
    result = np.empty((array.shape[0], outputs, model.n), dtype=array.dtype)
    starts, rows, count = _chunking(model, array, chunk_rows, threads, outputs)
    eye = np.eye(outputs, dtype=array.dtype)

    def work(_: Any, start: int, chunk: np.ndarray) -> None:
        kept = forward_records(steps, chunk, beta, keep_hidden=False)
        G = np.tile(eye, (chunk.shape[0], 1))  # one unit upstream gradient per output
        back = backward(steps, kept, G, outputs)
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
    array, single = check_input(model, X, dtype)
    expected = (model.n_outputs,) if single else (array.shape[0], model.n_outputs)
    upstream = _check_upstream(dY, expected, array.dtype).reshape(array.shape[0], -1)
    steps = plan(model, array.dtype)
    beta = _unit_steepness(model, beta)
    starts, rows, count = _chunking(model, array, chunk_rows, threads, 1)

    def fresh() -> list[dict[str, Any]]:
        return [
            {
                "bias": np.zeros(layer.units),
                **{name: Accumulator(matrix) for name, matrix in layer.matrices().items()},
            }
            for layer in model.layers
        ]

    def work(own: list[dict[str, Any]], start: int, chunk: np.ndarray) -> None:
        kept = forward_records(steps, chunk, beta, keep_hidden=True)
        backward(steps, kept, upstream[start : start + chunk.shape[0]], 1, own)

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

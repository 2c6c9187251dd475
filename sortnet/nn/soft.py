"""The softplus relaxation of sorting networks: steepness, input range, soft permutations.

The residual comparator ``d = relu(a - b); min = a - d; max = b + d`` relaxed with
``softplus_beta(z) = log(1 + exp(beta z)) / beta`` gives

* ``min = a - s``, ``max = b + s`` with ``s = softplus_beta(a - b)``;
* the comparator Jacobian ``[[1 - p, p], [p, 1 - p]]``, ``p = sigmoid(beta (a - b))``:
  doubly stochastic with entries in ``[0, 1]``, so a whole network's Jacobian is a
  product of such matrices: a *soft permutation matrix* (Petersen et al., ICLR 2022);
* ``0 < s - relu(a - b) <= log(2) / beta`` and min/max are 1-Lipschitz, so each
  output is within ``depth * log(2) / beta`` of the exact sorted value.

:func:`compilers.compile` with ``lowering="softplus"`` builds that network as a
compiled model (:mod:`compilers.softplus`); :func:`soft_permutation` computes its
Jacobian directly, comparator by comparator. Both share
:func:`~sortnet.nn.activations.check_steepness` and
:func:`~sortnet.nn.activations.input_bound`, which live beside the softplus
activation (the compilers may import the activation registry, nothing else here).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np

from sortnet import nodes
from sortnet.errors import SortnetError
from sortnet.network import Network
from sortnet.nn.activations import check_steepness, input_bound

__all__ = ["soft_permutation"]


def _softplus(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


def soft_permutation(X: Any, net: Network, steepness: float, *, dtype: Any = None) -> np.ndarray:
    """Soft permutation matrices of the rows of ``X`` under the softplus relaxation of ``net``.

    ``P[r]`` is the Jacobian of the softplus model
    (``compilers.compile(net, "softplus", steepness=steepness)``) at ``X[r]``:
    ``P[r] @ X[r]`` is close to ``sort(X[r])``, rows and columns sum to 1, entries
    lie in ``[0, 1]``; as ``steepness`` grows ``P[r]`` tends to the permutation
    matrix of ``argsort(X[r])``. Useful for ranking losses (e.g. cross-entropy
    against the true permutation matrix).

    Computed by carrying an ``n x n`` matrix through the comparators, layer by
    layer: comparator ``(i, j)`` with ``p = sigmoid(beta (x_i - x_j))`` replaces
    rows ``i`` and ``j`` by ``(1 - p) P_i + p P_j`` and ``p P_i + (1 - p) P_j``
    (``O(batch * size * n)`` operations, no generic matrix products).

    Parameters
    ----------
    X : array_like, shape (batch, n) or (n,)
        Finite values with ``|x| <= input_bound(steepness)``.
    net : Network
        A comparator sorting network (every output position present).
    steepness : float
        ``beta`` of ``softplus_beta``, in ``[2**-20, 2**60]``.
    dtype : {None, float32, float64}
        As for ``model(X)``: default the dtype of ``X`` (float64 for non-floats).

    Returns
    -------
    ndarray, shape (batch, n, n) (or (n, n) for 1-D ``X``)
        Row ``p`` is output position ``p``; column ``w`` is input ``w``.

    Examples
    --------
    >>> import sortnet
    >>> P = soft_permutation([[3.0, 1.0]], sortnet.network("bubble", 2), steepness=1.0)
    >>> P.round(3)
    array([[[0.119, 0.881],
            [0.881, 0.119]]])
    >>> soft_permutation([[1.0, 2.0], [5.0, 0.0]], sortnet.network("bubble", 2), 1e6)
    array([[[1., 0.],
            [0., 1.]],
    <BLANKLINE>
           [[0., 1.],
            [1., 0.]]])
    """
    from sortnet.nn.executor import _limit, _refusal, check_input

    if not isinstance(net, Network) or net.kind == nodes.COUNTING_KIND:
        raise SortnetError("soft_permutation needs a comparator sorting network")
    if sorted(net.outputs) != list(range(net.n)):
        raise SortnetError(
            f"soft_permutation needs every output position, the network has {len(net.outputs)}"
        )
    beta = check_steepness(steepness)
    shape = SimpleNamespace(n=net.n, bound=input_bound(beta))  # what the checks read
    array, single = check_input(shape, X, dtype)  # type: ignore[arg-type]
    limit, reason = _limit(shape, array.dtype)  # type: ignore[arg-type]
    if array.size and not (array.min() >= -limit and array.max() <= limit):
        raise _refusal(array, 0, limit, reason)
    from scipy.special import expit

    batch, n = array.shape
    values = array.copy()
    P = np.zeros((batch, n, n), dtype=array.dtype)
    P[:, np.arange(n), np.arange(n)] = 1
    beta_t = array.dtype.type(beta)
    for layer in net.layers():
        first = np.array([i for i, _ in layer], dtype=np.intp)
        second = np.array([j for _, j in layer], dtype=np.intp)
        a, b = values[:, first], values[:, second]
        z = beta_t * a - beta_t * b  # the model's pre-activation, rounded the same way
        shift = _softplus(z) * (1 / beta_t)
        values[:, first], values[:, second] = a - shift, b + shift
        p = expit(z)[:, :, None]
        low, high = P[:, first, :], P[:, second, :]
        moved = p * (high - low)  # (1 - p) P_i + p P_j and p P_i + (1 - p) P_j
        P[:, first, :], P[:, second, :] = low + moved, high - moved
    positions = sorted(net.outputs)
    result = P[:, [net.outputs[p] for p in positions], :]
    return result[0] if single else result

"""PyTorch form of compiled models and of soft permutations (optional; needs ``torch``).

``model.to_torch()`` (:func:`to_torch`) gives a ``torch.nn.Module`` with the model's
weights as ``nn.Parameter`` (fine-tuning works), native autograd, on CPU or GPU
(``.to(device)``); its output equals ``model(X)`` within float rounding. Each layer
computes ``act(W v + b)`` (a residual block ``S v + U act(W v + b)``) with a dense
``torch.nn.functional.linear`` or, for a sparse weight, a gather/``index_add`` over the
stored entries (a COO matrix product: the gradient lives on the sparsity pattern, like
:func:`sortnet.nn.autodiff.grad`).

Activations (:data:`TORCH_ACTIVATIONS`): identity, abs, relu, softplus have their usual
autograd derivatives (``relu'(0) = abs'(0) = 0``, torch's convention: on rows with ties
the gradient can differ from :func:`sortnet.nn.autodiff.vjp`, which takes the stable
one-sided derivative); ``step`` and ``indicator`` are piecewise constant and pass **no
gradient** (derivative 0, as in :mod:`sortnet.nn.autodiff`). With ``steepness=beta`` the
module is straight-through: exact forward pass, and each ReLU/abs unit's derivative is
its softplus relaxation (:attr:`~sortnet.nn.activations.Activation.relaxed`, the per-unit
steepness of :func:`sortnet.nn.autodiff.vjp`).

For ranking losses, :func:`soft_permutation_torch` computes the soft permutation
matrix of a network (the Jacobian of its softplus relaxation, as
:func:`sortnet.nn.soft.soft_permutation`) in torch, one schedule layer at a time, and
:class:`SoftSort` wraps it as a module (optionally straight-through: hard swaps
forward, the soft ``p`` backward).

torch is imported on first use only; ``import sortnet`` never loads it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from sortnet.errors import SortnetError
from sortnet.network import Network
from sortnet.nn.activations import check_steepness

if TYPE_CHECKING:
    from sortnet.nn.model import CompiledModel

__all__ = [
    "SPARSE_DENSITY",
    "TORCH_ACTIVATIONS",
    "SoftSort",
    "soft_permutation_torch",
    "to_torch",
]

#: ``sparse=None`` stores a scipy sparse weight sparsely when at most this fraction of
#: its entries is non-zero (dense weights always stay dense).
SPARSE_DENSITY = 0.25
#: Per-unit straight-through steepness scale of the lowerings whose comparator units
#: see half the gap (as :data:`sortnet.nn.autodiff.GAP_SCALE`).
_GAP_SCALE = {"abs": 0.5, "relu": 0.5}

#: Activation name -> what the torch module applies (``"relaxable"``: has a
#: straight-through derivative; ``"no gradient"``: piecewise constant).
TORCH_ACTIVATIONS = {
    "identity": "z",
    "abs": "torch.abs (relaxable)",
    "relu": "torch.relu (relaxable)",
    "softplus": "max(z, 0) + log1p(exp(-|z|))",
    "step": "1[z >= 0] (no gradient)",
    "indicator": "1[|z| <= 1] (no gradient)",
}


def _torch() -> Any:
    try:
        import torch
    except ImportError as error:  # pragma: no cover - exercised without torch only
        raise ImportError(
            "to_torch needs PyTorch: pip install 'sortnet[torch]' (or torch itself)"
        ) from error
    return torch


def _straight_through(torch: Any) -> Any:
    """The autograd functions: exact relu/abs forward, relaxed derivative backward."""

    class _ReluST(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, z: Any, beta: float) -> Any:
            ctx.save_for_backward(z)
            ctx.beta = beta
            return torch.relu(z)

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            (z,) = ctx.saved_tensors
            return g * torch.sigmoid(z * ctx.beta), None

    class _AbsST(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, z: Any, beta: float) -> Any:
            ctx.save_for_backward(z)
            ctx.beta = beta
            return torch.abs(z)

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            (z,) = ctx.saved_tensors
            return g * torch.tanh(z * (ctx.beta / 2)), None

    return _ReluST, _AbsST


def _softplus(torch: Any, z: Any) -> Any:
    """``log(1 + exp(z))`` as the numpy runtime computes it (no linear cut-off at 20)."""
    return torch.relu(z) + torch.log1p(torch.exp(-z.abs()))


def _apply(torch: Any, name: str, z: Any, beta: float | None, st: Any) -> Any:
    if name == "identity":
        return z
    if name == "relu":
        return torch.relu(z) if beta is None else st[0].apply(z, beta)
    if name == "abs":
        return torch.abs(z) if beta is None else st[1].apply(z, beta)
    if name == "softplus":
        return _softplus(torch, z)
    if name == "step":
        return (z.detach() >= 0).to(z.dtype)
    if name == "indicator":
        return (z.detach().abs() <= 1).to(z.dtype)
    raise SortnetError(f"no torch form for activation {name!r}; known: {list(TORCH_ACTIVATIONS)}")


def _module_class(torch: Any) -> Any:
    nn = torch.nn

    class TorchLayer(nn.Module):  # type: ignore[misc, name-defined]
        """One compiled layer; weights are parameters, sparse ones as (rows, cols, values)."""

        def __init__(self, layer: Any, index: int, dtype: Any, sparse: bool | None) -> None:
            super().__init__()
            self.index = index
            self.groups = list(layer.groups)
            self.inputs, self.units, self.outputs = layer.inputs, layer.units, layer.outputs
            self.residual = layer.residual
            self.sparse: dict[str, bool] = {}
            for name, matrix in layer.matrices().items():
                self._add(name, matrix, dtype, sparse)
            self.bias = nn.Parameter(torch.as_tensor(layer.bias, dtype=dtype))

        def _add(self, name: str, matrix: Any, dtype: Any, sparse: bool | None) -> None:
            is_scipy = not isinstance(matrix, np.ndarray)
            if sparse is None:
                size = max(1, matrix.shape[0] * matrix.shape[1])
                count = matrix.nnz if is_scipy else int(np.count_nonzero(matrix))
                sparse = is_scipy and count <= SPARSE_DENSITY * size
            self.sparse[name] = bool(sparse)
            if sparse:
                import scipy.sparse

                coo = scipy.sparse.coo_array(matrix)
                self.register_buffer(f"{name}_rows", torch.as_tensor(coo.row, dtype=torch.long))
                self.register_buffer(f"{name}_cols", torch.as_tensor(coo.col, dtype=torch.long))
                values = torch.as_tensor(np.asarray(coo.data), dtype=dtype)
                setattr(self, f"{name}_values", nn.Parameter(values))
                setattr(self, f"{name}_shape", tuple(int(s) for s in matrix.shape))
            else:
                dense = matrix if not is_scipy else matrix.toarray()
                setattr(self, name, nn.Parameter(torch.as_tensor(dense, dtype=dtype)))

        def dense(self, name: str) -> Any:
            """The matrix ``name`` as a dense tensor (a copy for sparse storage)."""
            if not self.sparse[name]:
                return getattr(self, name)
            values = getattr(self, f"{name}_values")
            out = torch.zeros(
                getattr(self, f"{name}_shape"), dtype=values.dtype, device=values.device
            )
            return out.index_put(
                (getattr(self, f"{name}_rows"), getattr(self, f"{name}_cols")),
                values,
                accumulate=True,
            )

        def _matmul(self, name: str, V: Any) -> Any:
            """``V @ M.T`` for the batch ``V`` (rows)."""
            if not self.sparse[name]:
                return torch.nn.functional.linear(V, getattr(self, name))
            rows = getattr(self, f"{name}_rows")
            cols = getattr(self, f"{name}_cols")
            values = getattr(self, f"{name}_values")
            out = V.new_zeros((V.shape[0], getattr(self, f"{name}_shape")[0]))
            return out.index_add(1, rows, V[:, cols] * values)

        def forward(self, V: Any, beta: float | None = None, st: Any = None) -> Any:
            Z = self._matmul("weight", V) + self.bias
            parts = [_apply(torch, name, Z[:, a:b], beta, st) for name, a, b in self.groups]
            H = parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
            if not self.residual:
                return H
            return self._matmul("skip", V) + self._matmul("out_weight", H)

    class TorchModel(nn.Module):  # type: ignore[misc, name-defined]
        """A compiled model as a ``torch.nn.Module``: ``forward(X)`` on rows ``(batch, n)``."""

        def __init__(self, model: Any, dtype: Any, sparse: bool | None, steepness: Any) -> None:
            super().__init__()
            self.n, self.n_outputs = model.n, model.n_outputs
            self.lowering = model.lowering
            self.metadata = dict(model.metadata)
            self.layers = nn.ModuleList(
                TorchLayer(layer, i, dtype, sparse) for i, layer in enumerate(model.layers)
            )
            beta = None if steepness is None else check_steepness(steepness)
            self.steepness = beta
            self._beta = None if beta is None else beta / _GAP_SCALE.get(self.lowering or "", 1.0)
            self._st = _straight_through(torch)

        def forward(self, X: Any) -> Any:
            single = X.dim() == 1
            V = X[None] if single else X
            if V.shape[-1] != self.n:
                raise SortnetError(f"expected rows of width {self.n}, got shape {tuple(X.shape)}")
            for layer in self.layers:
                V = layer(V, self._beta, self._st)
            return V[0] if single else V

        def extra_repr(self) -> str:
            st = (
                "" if self.steepness is None else f", straight-through steepness={self.steepness:g}"
            )
            return f"n={self.n} -> {self.n_outputs}, lowering={self.lowering}{st}"

    return TorchLayer, TorchModel


def to_torch(
    model: CompiledModel,
    *,
    dtype: Any = None,
    device: Any = None,
    sparse: bool | None = None,
    steepness: float | None = None,
) -> Any:
    """The compiled ``model`` as a ``torch.nn.Module`` (same weights, native autograd).

    Parameters
    ----------
    model : CompiledModel
        Any lowering (``abs``, ``relu``, ``residual``, ``softplus``, ``counting``), full
        sort or k-th.
    dtype : torch.dtype, optional
        Parameter dtype: ``torch.float32`` (default) or ``torch.float64``. Inputs must
        have the same dtype (``module(X.to(dtype))``).
    device : torch.device or str, optional
        Where the parameters live (default CPU); ``.to(device)`` moves it later.
    sparse : bool, optional
        Store weights as (row, column, value) lists and multiply with
        ``index_add``: ``True`` for every matrix, ``False`` for none, default
        ``None``: scipy sparse matrices with at most :data:`SPARSE_DENSITY` non-zeros.
    steepness : float, optional
        Straight-through mode: exact forward pass, softplus-relaxed ReLU/abs derivatives
        (the backward pass of ``model.vjp(X, dY, steepness=...)``).

    Returns
    -------
    torch.nn.Module
        ``module(X)`` maps a ``(batch, n)`` (or ``(n,)``) tensor to the model output.
        Its parameters are ``layers[i].weight``/``bias`` (and ``out_weight``, ``skip``);
        sparse matrices are ``<name>_values`` on the buffers ``<name>_rows``/``_cols``.
        ``module.layers[i].dense(name)`` gives any matrix densely. Unlike ``model(X)``
        it does not check inputs (bounds, NaN): it is plain arithmetic.

    Examples
    --------
    >>> import compilers, sortnet
    >>> torch = __import__("pytest").importorskip("torch")
    >>> model = compilers.compile(sortnet.network("best", 4), "relu")
    >>> module = model.to_torch(dtype=torch.float64)
    >>> X = torch.tensor([[3.0, -1.0, 2.5, 0.0]], dtype=torch.float64, requires_grad=True)
    >>> module(X).detach().numpy()
    array([[-1. ,  0. ,  2.5,  3. ]])
    >>> module(X)[0, 0].backward()  # d min / dX: one-hot at the argmin
    >>> X.grad
    tensor([[0., 1., 0., 0.]], dtype=torch.float64)
    """
    torch = _torch()
    dtype = torch.float32 if dtype is None else dtype
    if dtype not in (torch.float32, torch.float64):
        raise SortnetError(f"to_torch dtype must be torch.float32 or torch.float64, got {dtype}")
    _, TorchModel = _module_class(torch)
    module = TorchModel(model, dtype, sparse, steepness)
    return module if device is None else module.to(device)


def _check_network(net: Network) -> list[tuple[Any, Any]]:
    from sortnet import nodes

    if not isinstance(net, Network) or net.kind == nodes.COUNTING_KIND:
        raise SortnetError("a soft permutation needs a comparator sorting network")
    if sorted(net.outputs) != list(range(net.n)):
        raise SortnetError(f"a soft permutation needs every output position of {net.n}")
    torch = _torch()
    return [
        (
            torch.tensor([i for i, _ in layer], dtype=torch.long),
            torch.tensor([j for _, j in layer], dtype=torch.long),
        )
        for layer in net.layers()
    ]


def soft_permutation_torch(
    X: Any,
    net: Network,
    steepness: float,
    *,
    straight_through: bool = False,
    schedule: list[tuple[Any, Any]] | None = None,
    checkpoint: int | str | None = None,
) -> tuple[Any, Any]:
    """Soft permutation matrices and relaxed sorted values of ``X`` (torch, autograd).

    The comparator recurrence of :func:`sortnet.nn.soft.soft_permutation`: comparator
    ``(i, j)`` with ``p = sigmoid(beta (a - b))`` replaces rows ``i, j`` of ``P`` by
    ``(1 - p) P_i + p P_j`` and ``p P_i + (1 - p) P_j`` and the values by
    ``a - s``, ``b + s`` (``s = softplus(beta (a - b)) / beta``); all comparators of a
    schedule layer update at once (gather, then scatter). The ``n x n`` matrices run in
    place under a checkpointing autograd function, so memory stays a few copies of
    ``P`` (``O(sqrt(depth))``), not one per layer.

    Parameters
    ----------
    X : torch.Tensor, shape (batch, n)
    net : Network
        A comparator sorting network with every output position.
    steepness : float
        ``beta``.
    straight_through : bool
        Exact forward pass (hard swaps, ``P`` a permutation matrix, values exactly
        sorted) whose backward pass uses the soft ``p``: the forward value is
        ``hard + (soft - soft.detach())`` per comparator.
    schedule : list, optional
        The network's layers as index tensors (from :class:`SoftSort`), to skip
        rebuilding them on every call.
    checkpoint : int or "recompute", optional
        Keep the ``n x n`` state every ``checkpoint`` layers for the backward pass
        (default ``ceil(sqrt(depth))``: about ``2 sqrt(depth)`` copies of ``P`` and one
        extra forward pass); ``"recompute"`` keeps none and replays each layer's prefix
        from the identity (a few copies of ``P``, ``depth / 2`` forward passes): see
        :func:`_permutation_function`.

    Returns
    -------
    (P, values)
        ``P`` of shape ``(batch, n, n)`` (row = output position, column = input) and
        the relaxed sorted values ``(batch, n)``.

    Examples
    --------
    >>> import sortnet
    >>> torch = __import__("pytest").importorskip("torch")
    >>> X = torch.tensor([[3.0, 1.0]], dtype=torch.float64)
    >>> P, _ = soft_permutation_torch(X, sortnet.network("bubble", 2), 1.0)
    >>> P.numpy().round(3)
    array([[[0.119, 0.881],
            [0.881, 0.119]]])
    """
    torch = _torch()
    beta = check_steepness(steepness)
    layers = _check_network(net) if schedule is None else schedule
    values = X
    mixes = []
    for first, second in layers:
        first, second = first.to(X.device), second.to(X.device)
        a, b = values[:, first], values[:, second]
        z = beta * (a - b)
        p = torch.sigmoid(z)
        shift = _softplus(torch, z) / beta
        if straight_through:
            hard = (a > b).to(X.dtype)
            p = hard + (p - p.detach())
            shift = (hard * (a - b)).detach() + (shift - shift.detach())
        mixes.append(p)
        values = values.index_copy(1, first, a - shift).index_copy(1, second, b + shift)
    P = _permutation_function(torch).apply(layers, checkpoint, X.shape[1], *mixes)
    outputs = [net.outputs[p] for p in range(X.shape[1])]
    if outputs == list(range(X.shape[1])):
        return P, values
    order = torch.tensor(outputs, device=X.device)
    return P[:, order, :], values[:, order]


class _Work:
    """Scratch buffers reused by every layer (fresh multi-MB tensors cost page faults)."""

    def __init__(self, torch: Any, like: Any, size: int, count: int) -> None:
        self.torch = torch
        self.flat = [like.new_empty(size) for _ in range(count)]

    def views(self, shape: tuple[int, int, int]) -> list[Any]:
        size = shape[0] * shape[1] * shape[2]
        return [flat[:size].view(shape) for flat in self.flat]


def _mix(torch: Any, Q: Any, first: Any, second: Any, p: Any, work: _Work) -> None:
    """Rows ``first`` and ``second`` of ``Q`` mixed by ``p``, in place (one schedule layer).

    ``Q_i += p (Q_j - Q_i)``, ``Q_j -= p (Q_j - Q_i)``: the comparator matrix
    ``[[1 - p, p], [p, 1 - p]]``, which is symmetric, so the same call carries an
    upstream gradient back through the layer.
    """
    low, high, moved = work.views((Q.shape[0], first.numel(), Q.shape[2]))[:3]
    torch.index_select(Q, 1, first, out=low)
    torch.index_select(Q, 1, second, out=high)
    torch.sub(high, low, out=moved)
    moved.mul_(p[:, :, None])
    Q.index_copy_(1, first, low.add_(moved))
    Q.index_copy_(1, second, high.sub_(moved))


def _permutation_function(torch: Any) -> Any:
    """The autograd function ``(p_1, ..., p_D) -> P = M_D ... M_1`` with checkpointing.

    Autograd through the plain recurrence would keep every layer's ``n x n`` state
    (``D`` copies of ``P``). Here the forward pass runs in place and keeps one state
    every ``s`` layers (``s = ceil(sqrt(D))`` by default); the backward pass replays
    each segment from its checkpoint and carries ``G = dL/dQ`` back through the
    (symmetric) comparator matrices, with ``dL/dp = <G_i - G_j, Q_j - Q_i>`` per
    comparator at the state ``Q`` before its layer. Memory: about ``D/s + s + 3``
    copies of ``P`` instead of ``D``; time: one extra forward pass.
    """

    class _Permutation(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, layers: Any, checkpoint: Any, n: int, *mixes: Any) -> Any:
            ref = mixes[0] if mixes else torch.zeros(1, 1)
            batch, depth = ref.shape[0], len(mixes)
            if checkpoint == "recompute":
                step = None
            else:
                step = int(checkpoint) if checkpoint else math.isqrt(max(depth - 1, 0)) + 1
            Q = torch.eye(n, dtype=ref.dtype, device=ref.device).repeat(batch, 1, 1)
            widest = max((first.numel() for first, _ in layers), default=0)
            work = _Work(torch, ref, batch * widest * n, 3)
            saved = []
            for index, ((first, second), p) in enumerate(zip(layers, mixes, strict=True)):
                if step is not None and index % step == 0:
                    saved.append(Q.clone())
                _mix(torch, Q, first.to(ref.device), second.to(ref.device), p, work)
            ctx.layers, ctx.step, ctx.checkpoints, ctx.widest = layers, step, saved, widest
            ctx.save_for_backward(*mixes)
            return Q

        @staticmethod
        def backward(ctx: Any, G: Any) -> Any:
            mixes = ctx.saved_tensors
            layers, step = ctx.layers, ctx.step
            G = G.clone()
            batch, n = G.shape[0], G.shape[2]
            work = _Work(torch, G, batch * ctx.widest * n, 4)
            grads: list[Any] = [None] * len(mixes)

            def run(state: Any, start: int, stop: int) -> None:
                for index in range(start, stop):
                    first, second = (t.to(G.device) for t in layers[index])
                    _mix(torch, state, first, second, mixes[index], work)

            def back(index: int, Q: Any) -> None:  # Q: the state before layer ``index``
                first, second = (t.to(G.device) for t in layers[index])
                p = mixes[index][:, :, None]
                g_low, g_high, q_low, q_high = work.views((batch, first.numel(), n))
                torch.index_select(G, 1, first, out=g_low)
                torch.index_select(G, 1, second, out=g_high)
                torch.index_select(Q, 1, first, out=q_low)
                torch.index_select(Q, 1, second, out=q_high)
                g_low.sub_(g_high)  # G_i - G_j
                q_high.sub_(q_low)  # Q_j - Q_i
                grads[index] = (q_high.mul_(g_low)).sum(dim=2)
                torch.mul(g_low, p, out=q_low)  # p (G_i - G_j)
                G.index_copy_(1, first, g_low.sub_(q_low).add_(g_high))  # G_j + (1-p)(..)
                G.index_copy_(1, second, g_high.add_(q_low))  # G_j + p (G_i - G_j)

            if step is None:  # low memory: replay each layer's prefix from the identity
                state = torch.eye(n, dtype=G.dtype, device=G.device).repeat(batch, 1, 1)
                eye = state.clone() if len(mixes) > 1 else state
                for index in reversed(range(len(mixes))):
                    state.copy_(eye)
                    run(state, 0, index)
                    back(index, state)
                return (None, None, None, *grads)
            states = G.new_empty((min(step, len(mixes)), *G.shape))
            for segment in reversed(range(len(ctx.checkpoints))):
                start = segment * step
                stop = min(start + step, len(mixes))
                states[0].copy_(ctx.checkpoints[segment])
                for index in range(start, stop - 1):  # replay: states[k] is before layer start+k
                    states[index - start + 1].copy_(states[index - start])
                    run(states[index - start + 1], index, index + 1)
                for index in reversed(range(start, stop)):
                    back(index, states[index - start])
            return (None, None, None, *grads)

    return _Permutation


class SoftSort:
    """A network's soft permutation as a callable (the sorting layer of a ranking loss).

    ``SoftSort(net, steepness, straight_through=False)(X)`` returns ``(P, values)`` as
    :func:`soft_permutation_torch`, with the schedule's index tensors built once.

    Examples
    --------
    >>> import sortnet
    >>> torch = __import__("pytest").importorskip("torch")
    >>> sorter = SoftSort(sortnet.network("best", 3), steepness=1e3, straight_through=True)
    >>> P, values = sorter(torch.tensor([[2.0, 0.0, 1.0]]))
    >>> P[0].argmax(dim=1).tolist(), values.tolist()
    ([1, 2, 0], [[0.0, 1.0, 2.0]])
    """

    def __init__(
        self,
        net: Network,
        steepness: float,
        *,
        straight_through: bool = False,
        checkpoint: int | str | None = None,
    ) -> None:
        self.net = net
        self.checkpoint = checkpoint
        self.steepness = check_steepness(steepness)
        self.straight_through = straight_through
        self.schedule = _check_network(net)

    def __call__(self, X: Any) -> tuple[Any, Any]:
        return soft_permutation_torch(
            X,
            self.net,
            self.steepness,
            straight_through=self.straight_through,
            schedule=self.schedule,
            checkpoint=self.checkpoint,
        )

    def __repr__(self) -> str:
        mode = ", straight-through" if self.straight_through else ""
        return f"<SoftSort n={self.net.n}, steepness={self.steepness:g}{mode}>"

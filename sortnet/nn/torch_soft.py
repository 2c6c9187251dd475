"""The soft permutation matrix of a sorting network in PyTorch (optional; needs ``torch``).

For ranking losses (Petersen et al., ICML 2021): :func:`soft_permutation_torch`
computes the Jacobian of a network's softplus relaxation (as
:func:`sortnet.nn.soft.soft_permutation`, in torch with autograd), one schedule layer
at a time, and :class:`SoftSort` keeps the schedule for repeated calls (optionally
straight-through: hard swaps forward, the soft ``p`` backward). The ``n x n`` matrices
run in place under a checkpointing autograd function, so memory stays a few copies of
``P`` instead of one per layer.
"""

from __future__ import annotations

import math
from typing import Any

from sortnet.errors import SortnetError
from sortnet.network import Network
from sortnet.nn.activations import check_steepness
from sortnet.nn.torch_module import _softplus, _torch

__all__ = ["SoftSort", "soft_permutation_torch"]


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


#: Comparators per chunk are chosen so one scratch buffer holds about this many values.
CHUNK_VALUES = 1 << 18


def _chunks(first: Any, second: Any, p: Any, rows: int) -> Any:
    """``(first, second, p)`` in slices of at most ``rows`` comparators."""
    for start in range(0, first.numel(), rows):
        stop = start + rows
        yield first[start:stop], second[start:stop], p[:, start:stop]


class _Work:
    """Scratch buffers reused by every chunk (fresh multi-MB tensors cost page faults).

    A layer's comparators run in chunks of ``rows`` so the buffers stay small
    (:data:`CHUNK_VALUES` values each) whatever ``n`` and the batch.
    """

    def __init__(self, torch: Any, like: Any, batch: int, n: int, widest: int, count: int):
        self.rows = max(1, min(widest, CHUNK_VALUES // max(1, batch * n)))
        self.flat = [like.new_empty(batch * self.rows * n) for _ in range(count)]

    def views(self, shape: tuple[int, int, int]) -> list[Any]:
        size = shape[0] * shape[1] * shape[2]
        return [flat[:size].view(shape) for flat in self.flat]


def _mix(torch: Any, Q: Any, first: Any, second: Any, p: Any, work: _Work) -> None:
    """Rows ``first`` and ``second`` of ``Q`` mixed by ``p``, in place (one schedule layer).

    ``Q_i += p (Q_j - Q_i)``, ``Q_j -= p (Q_j - Q_i)``: the comparator matrix
    ``[[1 - p, p], [p, 1 - p]]``, which is symmetric: the backward pass mixes the
    upstream gradient's rows the same way.
    """
    for i, j, q in _chunks(first, second, p, work.rows):
        low, high, moved = work.views((Q.shape[0], i.numel(), Q.shape[2]))[:3]
        torch.index_select(Q, 1, i, out=low)
        torch.index_select(Q, 1, j, out=high)
        torch.sub(high, low, out=moved)
        moved.mul_(q[:, :, None])
        Q.index_copy_(1, i, low.add_(moved))
        Q.index_copy_(1, j, high.sub_(moved))


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
            work = _Work(torch, ref, batch, n, widest, 3)
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
            work = _Work(torch, G, batch, n, ctx.widest, 4)
            grads: list[Any] = [None] * len(mixes)

            def run(state: Any, start: int, stop: int) -> None:
                for index in range(start, stop):
                    first, second = (t.to(G.device) for t in layers[index])
                    _mix(torch, state, first, second, mixes[index], work)

            def back(index: int, Q: Any) -> None:  # Q: the state before layer ``index``
                first, second = (t.to(G.device) for t in layers[index])
                parts = []
                for i, j, q in _chunks(first, second, mixes[index], work.rows):
                    g_low, g_high, q_low, q_high = work.views((batch, i.numel(), n))
                    torch.index_select(G, 1, i, out=g_low)
                    torch.index_select(G, 1, j, out=g_high)
                    torch.index_select(Q, 1, i, out=q_low)
                    torch.index_select(Q, 1, j, out=q_high)
                    g_low.sub_(g_high)  # G_i - G_j
                    q_high.sub_(q_low)  # Q_j - Q_i
                    parts.append(q_high.mul_(g_low).sum(dim=2))
                    torch.mul(g_low, q[:, :, None], out=q_low)  # p (G_i - G_j)
                    G.index_copy_(1, i, g_low.sub_(q_low).add_(g_high))  # G_j + (1-p)(..)
                    G.index_copy_(1, j, g_high.add_(q_low))  # G_j + p (G_i - G_j)
                grads[index] = parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)

            if step is None:  # low memory: replay each layer's prefix from the identity
                state = G.new_empty(G.shape)
                for index in reversed(range(len(mixes))):
                    state.zero_().diagonal(dim1=1, dim2=2).fill_(1)
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

    ``SoftSort(net, steepness, straight_through=False, checkpoint=None)(X)`` returns
    ``(P, values)`` as :func:`soft_permutation_torch` (same options), with the
    schedule's index tensors built once.

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

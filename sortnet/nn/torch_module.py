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

For ranking losses, :mod:`sortnet.nn.torch_soft` computes a network's soft
permutation matrix in torch.

torch is imported on first use only; ``import sortnet`` never loads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from sortnet.errors import SortnetError
from sortnet.nn.activations import check_steepness

if TYPE_CHECKING:
    from sortnet.nn.model import CompiledModel

__all__ = ["SPARSE_DENSITY", "TORCH_ACTIVATIONS", "to_torch"]

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

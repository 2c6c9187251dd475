"""Compiled models: an ordered stack of :class:`Layer` objects that sorts (or selects).

This is the type the compilers (:mod:`compilers`) produce and everything else
consumes: the numpy executor (:mod:`sortnet.nn.executor`), the model file format
(:mod:`sortnet.nn.npz`), the ONNX exporter and the diagram renderer. The compilers
import it from the neural runtime, which never imports them back.

Structure
---------
A model on ``n`` inputs is ``model.layers``, a list of :class:`Layer`. Each layer
maps a column vector ``v`` (its input) to its output, in the ``(out, in)`` weight
convention of the course (``W1 = [[.5, -.5], [.5, .5]]``):

* a **plain** layer: ``y = act(W @ v + b)``, one activation per unit
  (``layer.activations[u]``);
* a **residual block** (``layer.residual``): ``h = act(W @ v + b)`` and
  ``y = skip @ v + out_weight @ h``. The ``residual`` lowering builds a residual
  MLP out of these blocks (the skip is explicit, usually the identity).

Row batches are computed as ``X @ W.T``. The first layer reads the input row, the
last layer's output is the model output: ``n`` sorted values, or one value for a
k-th-smallest model. For the ``abs`` and ``relu`` lowerings the last layer is an
all-identity output layer and the others are the hidden layers (one per layer of
the network's parallel schedule); for ``residual`` there is one block per
schedule layer and the last block's output map is the output layer.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from sortnet.errors import InputError, ModelFormatError
from sortnet.nn.layer import Layer, Matrix, nonzeros, to_dense

__all__ = ["CompiledModel", "Layer", "Matrix", "load_model", "nonzeros", "to_dense"]


class CompiledModel:
    """A compiled network: layers of weights, biases and per-unit activations.

    Build one with :func:`compilers.compile`; load one with :func:`sortnet.load_model`.
    Call it on a batch ``X`` of shape ``(batch, n)`` to run the neural executor.

    Exactness contract
    ------------------
    Comparator models (``abs``, ``relu``, ``residual``) compute min and max with
    additions, halvings and ReLU/abs only, so on inputs that are integers of
    magnitude below ``2**(p - 2)`` (``p`` = 24 mantissa bits for float32, 53 for
    float64) every intermediate value is representable and the output equals
    ``np.sort`` bit for bit. For other floats, each output differs from the exact
    sorted value by at most ``error_bound(X)``: ``8 * (depth + 1) * u * max|x|`` per
    row, with ``u = 2**-p`` (each layer adds at most a few rounding errors of size
    ``u * max|x|`` and min/max never amplify earlier errors), plus a few multiples
    of the smallest subnormal when ``max|x|`` is tiny. Counting models are exact
    for every float with ``|x| <= bound`` (their arithmetic on ``x`` is ``x - 0``).

    Inputs must be finite and 2-D of width ``n`` (a 1-D row is accepted and gives a
    1-D result); NaN, infinities, values above ``finfo.max / 64`` (which could
    overflow inside a layer), for models with a ``bound``, values with
    ``|x| > bound``, and integer inputs outside the exact range above (``2**p``
    for counting models), which the run would round, are refused with
    :class:`~sortnet.errors.InputError`.

    Examples
    --------
    >>> import compilers, sortnet
    >>> model = compilers.compile(sortnet.Network.from_comparators(2, [(0, 1)]), "abs")
    >>> model
    <CompiledModel n=2 -> 2, lowering=abs, 1 hidden layer(s), 12 parameters>
    >>> model(np.array([[3.0, -1.0], [-2.0, -5.0]]))
    array([[-1.,  3.],
           [-5., -2.]])
    """

    def __init__(self, layers: Sequence[Layer], metadata: Mapping[str, Any]) -> None:
        if not layers:
            raise ValueError("a compiled model needs at least one layer")
        for before, after in zip(layers, layers[1:], strict=False):
            if before.outputs != after.inputs:
                raise ValueError(
                    f"layer widths do not chain: {before.outputs} outputs feed {after.inputs}"
                )
        self.layers: tuple[Layer, ...] = tuple(layers)
        # A JSON round trip keeps metadata plain (and saveable) from the start.
        self.metadata: dict[str, Any] = json.loads(json.dumps(dict(metadata)))
        self._memo: dict[Any, Any] = {}  # derived data: executor plans, kernel keys
        self._digest: str | None = None  # content hash, computed on first use

    def memo(self, key: Any, build: Any) -> Any:
        """``build()``, computed once per ``key`` and kept (models are immutable).

        The runtime's modules keep what they derive from the weights here (execution
        plans, kernel sizes and hashes) instead of writing private attributes.
        """
        if key not in self._memo:
            self._memo[key] = build()
        return self._memo[key]

    # -- description ------------------------------------------------------------------
    @property
    def n(self) -> int:
        """Input width (number of wires)."""
        return self.layers[0].inputs

    @property
    def n_outputs(self) -> int:
        """Output width: ``n`` for a sorting model, 1 for a k-th-smallest model."""
        return self.layers[-1].outputs

    @property
    def lowering(self) -> str | None:
        """``"abs"``, ``"relu"``, ``"residual"`` or ``"counting"``."""
        return self.metadata.get("lowering")

    @property
    def k(self) -> int | None:
        """The 1-based rank a selection model outputs, or None for a full sort."""
        return self.metadata.get("k")

    @property
    def bound(self) -> float | None:
        """Inputs must satisfy ``|x| <= bound`` (big-M of counting models), or None."""
        bound = self.metadata.get("bound")
        return None if bound is None else float(bound)

    @property
    def readout(self) -> np.ndarray | None:
        """The unfused k-th output weights W3 (``1 x n`` one-hot at ``k``), or None."""
        readout = self.metadata.get("readout")
        return None if readout is None else np.array(readout, dtype=np.float64)

    @property
    def digest(self) -> str:
        """SHA-256 (hex) of every weight, activation and the metadata: the model's identity."""
        if self._digest is None:
            from sortnet.nn.digest import model_digest

            self._digest = model_digest(self.layers, self.metadata)
        return self._digest

    @property
    def depth(self) -> int:
        """Number of hidden layers (layers with a non-identity unit)."""
        return sum(layer.nonlinear for layer in self.layers)

    @property
    def parameters(self) -> int:
        """Number of parameters, counted densely."""
        return sum(layer.parameters for layer in self.layers)

    @property
    def nonzeros(self) -> int:
        """Number of non-zero weights and biases."""
        return sum(layer.nonzeros for layer in self.layers)

    def summary(self) -> str:
        """A table of layers, widths, activations, parameters and non-zeros."""
        source = self.metadata.get("source", {})
        lines = [
            f"CompiledModel: {source.get('name') or source.get('kind', 'network')} "
            f"n={self.n} -> {self.n_outputs}, lowering={self.lowering}, k={self.k}, "
            f"bound={self.bound}",
            f"{'layer':>5}  {'kind':8} {'in':>6} {'units':>6} {'out':>6} "
            f"{'params':>10} {'nonzero':>9}  activations",
        ]
        for index, layer in enumerate(self.layers):
            kind = "residual" if layer.residual else ("hidden" if layer.nonlinear else "output")
            acts = ", ".join(f"{name} x{stop - start}" for name, start, stop in layer.groups)
            lines.append(
                f"{index:>5}  {kind:8} {layer.inputs:>6} {layer.units:>6} {layer.outputs:>6} "
                f"{layer.parameters:>10} {layer.nonzeros:>9}  {acts}"
            )
        lines.append(
            f"total: {len(self.layers)} layers ({self.depth} hidden), "
            f"{self.parameters} parameters, {self.nonzeros} non-zero"
        )
        return "\n".join(lines)

    def __repr__(self) -> str:
        k = "" if self.k is None else f", k={self.k}"
        bound = "" if self.bound is None else f", bound={self.bound:g}"
        return (
            f"<CompiledModel n={self.n} -> {self.n_outputs}, lowering={self.lowering}{k}{bound}, "
            f"{self.depth} hidden layer(s), {self.parameters} parameters>"
        )

    # -- running ---------------------------------------------------------------------
    def __call__(
        self,
        X: Any,
        *,
        dtype: Any = None,
        chunk_rows: int | None = None,
        threads: int | None = None,
        engine: str | None = None,
    ) -> np.ndarray:
        """Run the neural executor; see :func:`sortnet.nn.executor.run` (``engine`` too).

        A ``dask.array`` gives a lazy dask array (see :mod:`sortnet.nn.dask`).
        """
        from sortnet._args import positive_int
        from sortnet._dask import is_dask_array
        from sortnet.nn.executor import run

        # Checked here so the dask path (which runs each chunk on one thread) refuses
        # the same values as the eager one.
        chunk_rows = positive_int(chunk_rows, "chunk_rows")
        threads = positive_int(threads, "threads")
        if is_dask_array(X):
            from sortnet.nn.dask import run_model

            return run_model(self, X, dtype=dtype, chunk_rows=chunk_rows)
        return run(self, X, dtype=dtype, chunk_rows=chunk_rows, threads=threads, engine=engine)

    def forward_reference(self, X: np.ndarray) -> np.ndarray:
        """Layer-by-layer :meth:`Layer.forward` in float64: slow, obviously literal."""
        V = np.asarray(X, dtype=np.float64)
        for layer in self.layers:
            V = layer.forward(V)
        return V

    def error_bound(self, X: Any, dtype: Any = None) -> np.ndarray:
        """Per-row bound on ``|model(X, dtype=dtype) - np.sort(X)|`` (see the class notes).

        Parameters
        ----------
        X : array_like, shape (batch, n) or (n,)
            The batch, with the checks of ``model(X)`` (and no NaN or infinity).
        dtype : {None, float32, float64}
            The precision the model runs ``X`` in, chosen by the rule ``model(X)``
            uses: by default ``X``'s own dtype when it is float32 or float64, else
            float64. A float32 run rounds far more than a float64 one, so its bound
            is about ``2**29`` times larger.

        Returns
        -------
        numpy.ndarray of float64
            One bound per row (a scalar array for 1-D ``X``); zeros for counting
            models, which are exact. A ``softplus`` model adds its relaxation error,
            ``depth * log(2) / steepness``, to the rounding bound.

        Examples
        --------
        >>> import compilers, sortnet
        >>> model = compilers.compile(sortnet.network("best", 4), "relu")
        >>> X = np.array([[0.1, 3e5, -7.0, 2.0]])
        >>> bound64, bound32 = model.error_bound(X), model.error_bound(X.astype(np.float32))
        >>> bool(bound32[0] > 2**28 * bound64[0])
        True
        >>> bool(np.all(np.abs(model(X) - np.sort(X)) <= bound64[:, None]))
        True
        """
        from sortnet.nn.executor import check_input

        # The run dtype, shape and width checks of model(X), then no NaN or inf.
        array, single = check_input(self, X, dtype)
        info = np.finfo(array.dtype)
        wide = array.astype(np.float64)
        if not np.isfinite(wide).all():
            raise InputError("X contains NaN or an infinity: there is no error bound for it")
        scale = np.max(np.abs(wide[0] if single else wide), axis=-1, initial=0.0)
        if self.lowering == "counting":
            return np.zeros_like(scale)
        rounding = 8.0 * (self.depth + 1) * (info.eps / 2 * scale + float(info.smallest_subnormal))
        steepness = self.metadata.get("steepness")
        if self.lowering == "softplus" and steepness:
            # 0 < softplus_beta(z) - relu(z) <= log(2)/beta per layer; min/max are 1-Lipschitz.
            return rounding + self.depth * math.log(2) / float(steepness)
        return rounding

    # -- gradients -----------------------------------------------------------------------
    def vjp(self, X: Any, dY: Any, **options: Any) -> np.ndarray:
        """``dL/dX`` for an upstream gradient ``dY``; see :func:`sortnet.nn.autodiff.vjp`.

        Examples
        --------
        >>> import compilers, sortnet
        >>> model = compilers.compile(sortnet.network("best", 3), "relu")
        >>> model.vjp(np.array([[3.0, 1.0, 2.0]]), np.array([[1.0, 0.0, 0.0]]))
        array([[0., 1., 0.]])
        """
        from sortnet.nn.autodiff import vjp

        return vjp(self, X, dY, **options)

    def jacobian(self, X: Any, **options: Any) -> np.ndarray:
        """``d model(X) / dX``, shape ``(batch, n_outputs, n)``; see :mod:`sortnet.nn.autodiff`.

        For the piecewise-linear lowerings it is the permutation matrix of the stable
        argsort (ties included).

        Examples
        --------
        >>> import compilers, sortnet
        >>> model = compilers.compile(sortnet.network("best", 3), "abs")
        >>> model.jacobian(np.array([[3.0, 1.0, 2.0]]))[0]
        array([[0., 1., 0.],
               [0., 0., 1.],
               [1., 0., 0.]])
        """
        from sortnet.nn.autodiff import jacobian

        return jacobian(self, X, **options)

    def grad(self, X: Any, dY: Any, **options: Any) -> list[Any]:
        """Gradients of every layer's weights and biases; see :func:`sortnet.nn.autodiff.grad`."""
        from sortnet.nn.autodiff import grad

        return grad(self, X, dY, **options)

    # -- files -------------------------------------------------------------------------
    def save(self, path: Any) -> None:
        """Write the model to an ``.npz`` file (atomically; no pickle)."""
        from sortnet.nn.npz import save_model

        save_model(self, path)

    def to_onnx(self, path: Any) -> None:
        """Export to ONNX (opset 17): input ``x`` float32 ``[batch, n]``, output ``y``."""
        from sortnet.nn.onnx_export import export_onnx

        export_onnx(self, path)

    def to_torch(self, **options: Any) -> Any:
        """A ``torch.nn.Module`` of these weights: :func:`sortnet.nn.torch_module.to_torch`."""
        from sortnet.nn.torch_module import to_torch

        return to_torch(self, **options)


def load_model(path: Any, *, allow_missing_digest: bool = False) -> CompiledModel:
    """Read a model written by :meth:`CompiledModel.save`, checking everything in it first.

    The file is untrusted: every size is bounded before anything is allocated, every
    array, count and metadata field is checked before anything is built, and the
    content digest is recomputed and compared with the one stored, so a modified file
    is refused, not run (see :mod:`sortnet.nn.npz`).

    Parameters
    ----------
    path : str or os.PathLike
        The ``.npz`` file.
    allow_missing_digest : bool, default False
        Accept a file without a content digest (format version 1, written by sortnet
        0.1.0), whose modification cannot be detected. Every other check still
        applies; saving the loaded model again adds a digest. A file that has a
        digest is always checked against it.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ModelFormatError
        If the file is not a readable, consistent sortnet model (not a regular file,
        too large, corrupt, truncated, foreign, modified after it was written, without
        a digest, from a newer format version, or with arrays or metadata that
        contradict each other); the message names the file and the problem.

    Examples
    --------
    >>> import tempfile, pathlib, compilers, sortnet
    >>> model = compilers.compile(sortnet.Network.from_comparators(2, [(0, 1)]))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     model.save(pathlib.Path(tmp) / "m.npz")
    ...     load_model(pathlib.Path(tmp) / "m.npz")
    <CompiledModel n=2 -> 2, lowering=relu, 1 hidden layer(s), 22 parameters>
    """
    from sortnet.nn.npz import read_model

    layers, metadata = read_model(path, allow_missing_digest=allow_missing_digest)
    try:
        return CompiledModel(layers, metadata)
    except (TypeError, ValueError) as error:
        raise ModelFormatError(f"{path}: corrupt model file ({error})") from None

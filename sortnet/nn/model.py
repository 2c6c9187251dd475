"""Compiled models: an ordered stack of :class:`Layer` objects that sorts (or selects).

This is the type the compilers (:mod:`compilers`) produce and everything else
consumes: the numpy executor (:mod:`sortnet.executor`), the model file format
(:mod:`sortnet.model_io`), the ONNX exporter and the diagram renderer. It lives in
``sortnet`` so both packages can see it without an import cycle.

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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import numpy as np

from sortnet.activations import ACTIVATIONS
from sortnet.errors import InputError

#: A weight matrix: a dense float64 ``ndarray`` or a ``scipy.sparse.csr_array``
#: (typed loosely: scipy ships no type information).
Matrix: TypeAlias = Any

__all__ = ["CompiledModel", "Layer", "Matrix"]


def _as_matrix(value: Any, name: str) -> Matrix:
    """Dense float64 2-D array or a CSR float64 sparse array, unchanged in value."""
    if hasattr(value, "tocsr"):
        import scipy.sparse

        matrix = scipy.sparse.csr_array(value, dtype=np.float64)
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
        One registered activation name (:data:`sortnet.activations.ACTIVATIONS`)
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

        Straightforward and slow; :mod:`sortnet.executor` runs the same arithmetic fast.
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
    overflow inside a layer) and, for models with a ``bound``, values with
    ``|x| > bound`` are refused with :class:`~sortnet.errors.InputError`.

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
        self._plans: dict[Any, Any] = {}  # executor plans, one per dtype
        self._digest: str | None = None  # content hash, computed on first use

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
            from sortnet.digest import model_digest

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
        engine: str = "auto",
    ) -> np.ndarray:
        """Run the neural executor; see :func:`sortnet.executor.run`.

        ``engine`` is ``"auto"`` (numba's generated kernel when installed and
        worth compiling, else numpy), ``"numba"`` or ``"numpy"``.
        A ``dask.array`` gives a lazy dask array (see :mod:`sortnet.dask_engine`).
        """
        from sortnet import dask_engine
        from sortnet.executor import run

        if dask_engine.is_dask_array(X):
            return dask_engine.run_model(self, X, dtype=dtype, chunk_rows=chunk_rows)
        return run(self, X, dtype=dtype, chunk_rows=chunk_rows, threads=threads, engine=engine)

    def forward_reference(self, X: np.ndarray) -> np.ndarray:
        """Layer-by-layer :meth:`Layer.forward` in float64: slow, obviously literal."""
        V = np.asarray(X, dtype=np.float64)
        for layer in self.layers:
            V = layer.forward(V)
        return V

    def error_bound(self, X: Any, dtype: Any = np.float64) -> np.ndarray:
        """Per-row bound on ``|model(X) - sorted(X)|`` for ``dtype`` (see class docs)."""
        from sortnet.executor import _check_input

        # The run dtype, shape and width checks of model(X); then no NaN or inf.
        dtype = _check_input(self, np.zeros((0, self.n)), dtype)[0].dtype
        array, single = _check_input(self, X, np.float64)
        if not np.isfinite(array).all():
            raise InputError("X contains NaN or an infinity: there is no error bound for it")
        info = np.finfo(dtype)
        scale = np.max(np.abs(array[0] if single else array), axis=-1, initial=0.0)
        if self.lowering == "counting":
            return np.zeros_like(scale)
        return 8.0 * (self.depth + 1) * (info.eps / 2 * scale + float(info.smallest_subnormal))

    # -- files -------------------------------------------------------------------------
    def save(self, path: Any) -> None:
        """Write the model to an ``.npz`` file (atomically; no pickle)."""
        from sortnet.model_io import save_model

        save_model(self, path)

    def to_onnx(self, path: Any) -> None:
        """Export to ONNX (opset 17): input ``x`` float32 ``[batch, n]``, output ``y``."""
        from compilers.onnx_export import export_onnx

        export_onnx(self, path)

"""What :func:`sortnet.load_model` checks in a model file before it builds anything.

A model file is untrusted input: a crafted one must not crash the process (the numba
kernels and scipy's sparse routines index memory with the stored indices), exhaust
memory (every count and size in it is read from the file) or run with weights that
contradict its own description. Loading goes in steps, each bounded or checked:

1. :func:`sortnet.nn.npz_archive.read_archive`: bounded reading of the file, its zip
   directory and every ``.npy`` header (nothing is allocated that the file does not hold);
2. :func:`checked_layers` (here): the header's layer descriptions and every array:
   dtype, ndim, finiteness, CSR structure (indices in range, ``indptr`` monotone from
   0 to nnz), positive shapes chained layer to layer, activation run lengths that sum
   to the unit count, checked before anything is expanded;
3. :func:`check_metadata` (here): the model metadata against the weights (``n``, ``k``
   and output width, lowering and activations, bound, readout, source network).

:mod:`sortnet.nn.npz` then builds the model and compares its content digest.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sortnet.errors import ModelFormatError
from sortnet.nn.activations import ACTIVATIONS
from sortnet.nn.sparse_check import csr_problem
from sortnet.validate import MAX_COMPARATORS, MAX_WIRES

#: Largest accepted ``bound`` (as ``compilers.compiling.MAX_BOUND``, which ``sortnet``
#: cannot import): keeps every sum of a counting model finite in float32.
MAX_BOUND = 2.0**120
#: The activations each lowering produces; a file claiming a lowering uses only these.
LOWERING_ACTIVATIONS = {
    "abs": {"abs", "identity"},
    "relu": {"relu", "identity"},
    "residual": {"relu", "identity"},
    "softplus": {"softplus", "identity"},
    "counting": {"step", "indicator", "relu", "identity"},
}
#: Lowerings built of residual blocks: every layer but a trivial one is a block.
RESIDUAL_LOWERINGS = frozenset({"residual", "softplus"})

__all__ = [
    "check_layer_meta",
    "check_metadata",
    "checked_layers",
    "member_names",
    "parse_header",
]


def _fail(path: Path | str, problem: str) -> ModelFormatError:
    # One line: the CLI prints the message as its only line on stderr.
    return ModelFormatError(f"{path}: {problem}".replace("\n", " "))


# -- 2. layers and arrays --------------------------------------------------------------


def member_names(layers_meta: Sequence[Mapping[str, Any]]) -> set[str]:
    """The array names a header with these (already checked) layer descriptions needs."""
    names = {"metadata"}
    for index, meta in enumerate(layers_meta):
        names.add(f"layer{index}.bias")
        for matrix in ("weight", "out_weight", "skip") if meta["residual"] else ("weight",):
            if matrix in meta["sparse"]:
                names.update(f"layer{index}.{matrix}.{p}" for p in ("data", "indices", "indptr"))
                names.add(f"layer{index}.{matrix}.shape")
            else:
                names.add(f"layer{index}.{matrix}")
    return names


def check_layer_meta(layers_meta: Any, path: Path) -> list[dict[str, Any]]:
    """The header's ``layers`` list, its types checked (not yet against the arrays)."""
    if not isinstance(layers_meta, list) or not layers_meta:
        raise _fail(path, "corrupt model file ('layers' must be a non-empty list)")
    for index, meta in enumerate(layers_meta):
        where = f"layer {index}"
        if not isinstance(meta, dict):
            raise _fail(path, f"corrupt model file ({where} is not an object)")
        if not isinstance(meta.get("residual"), bool):
            raise _fail(path, f"corrupt model file ({where}: 'residual' must be true or false)")
        allowed = ("weight", "out_weight", "skip") if meta["residual"] else ("weight",)
        sparse = meta.get("sparse")
        if (
            not isinstance(sparse, list)
            or not all(isinstance(name, str) and name in allowed for name in sparse)
            or len(set(sparse)) != len(sparse)
        ):
            raise _fail(path, f"corrupt model file ({where}: 'sparse' must list {allowed})")
        runs = meta.get("activations")
        if not isinstance(runs, list) or not all(
            isinstance(run, list) and len(run) == 2 for run in runs
        ):
            raise _fail(
                path, f"corrupt model file ({where}: 'activations' must be [name, count] runs)"
            )
        labels = meta.get("labels")
        if labels is not None and not (
            isinstance(labels, list) and all(isinstance(label, str) for label in labels)
        ):
            raise _fail(path, f"corrupt model file ({where}: 'labels' must be a list of strings)")
    return layers_meta


def checked_layers(
    layers_meta: list[dict[str, Any]], arrays: Mapping[str, np.ndarray], path: Path
) -> list[dict[str, Any]]:
    """Keyword arguments of :class:`~sortnet.nn.layer.Layer`, one dict per layer, all checked.

    Matrices come back as float64 arrays (dense) or scipy CSR arrays built only after
    their index arrays were checked.
    """
    layers = []
    width = None  # the previous layer's output width
    for index, meta in enumerate(layers_meta):
        names = ("weight", "out_weight", "skip") if meta["residual"] else ("weight",)
        matrices = {
            name: _matrix(arrays, f"layer{index}.{name}", name in meta["sparse"], path)
            for name in names
        }
        units, inputs = _shape(matrices["weight"])
        if index == 0 and inputs > MAX_WIRES:
            raise _fail(path, f"n={inputs} is more than sortnet's limit of {MAX_WIRES} wires")
        if width is not None and inputs != width:
            raise _fail(
                path, f"layer {index} reads {inputs} values but layer {index - 1} outputs {width}"
            )
        outputs = units
        if meta["residual"]:
            outputs, hidden = _shape(matrices["out_weight"])
            if hidden != units or _shape(matrices["skip"]) != (outputs, inputs):
                raise _fail(
                    path,
                    f"layer {index}: a residual block of {units} units on {inputs} inputs needs "
                    f"out_weight (outputs, {units}) and skip (outputs, {inputs}), got "
                    f"{_shape(matrices['out_weight'])} and {_shape(matrices['skip'])}",
                )
        bias = _float_array(arrays, f"layer{index}.bias", 1, path)
        if bias.shape != (units,):
            raise _fail(path, f"layer{index}.bias has {bias.size} entries for {units} units")
        labels = meta.get("labels")
        if labels is not None and len(labels) != units:
            raise _fail(path, f"layer {index}: {len(labels)} labels for {units} units")
        layers.append(
            {
                **matrices,
                "bias": bias,
                "activations": _expand_runs(meta["activations"], units, index, path),
                "labels": None if labels is None else tuple(labels),
            }
        )
        width = outputs
    return layers


def _shape(matrix: Any) -> tuple[int, int]:
    return tuple(int(extent) for extent in matrix.shape)  # type: ignore[return-value]


def _expand_runs(runs: list[list[Any]], units: int, index: int, path: Path) -> tuple[str, ...]:
    # Every count is checked, and their sum bounded by the layer, before anything is
    # expanded: a run length of 10**12 must not become 10**12 strings.
    total = 0
    for name, count in runs:
        if not isinstance(name, str) or name not in ACTIVATIONS:
            raise _fail(
                path,
                f"layer {index}: unknown activation {name!r}; known: {', '.join(ACTIVATIONS)}",
            )
        if type(count) is not int or count < 1:
            raise _fail(path, f"layer {index}: activation count {count!r} is not an integer >= 1")
        total += count
        if total > units:
            raise _fail(path, f"layer {index}: activation counts exceed its {units} units")
    if total != units:
        raise _fail(path, f"layer {index}: activation counts sum to {total}, not its {units} units")
    return tuple(name for name, count in runs for _ in range(count))


def _member(arrays: Mapping[str, np.ndarray], name: str, path: Path) -> np.ndarray:
    if name not in arrays:
        raise _fail(path, f"corrupt model file (missing array {name!r})")
    return arrays[name]


def _float_array(arrays: Mapping[str, np.ndarray], name: str, ndim: int, path: Path) -> np.ndarray:
    array = _member(arrays, name, path)
    if array.dtype.kind != "f" or array.dtype.itemsize not in (4, 8):
        raise _fail(path, f"{name} has dtype {array.dtype}; weights are float32 or float64")
    if array.ndim != ndim:
        raise _fail(path, f"{name} has shape {array.shape}; expected {ndim}-D")
    if not np.isfinite(array).all():
        raise _fail(path, f"{name} contains NaN or an infinity")
    return array.astype(np.float64)


def _int_array(arrays: Mapping[str, np.ndarray], name: str, path: Path) -> np.ndarray:
    array = _member(arrays, name, path)
    if array.dtype.kind not in "iu" or array.ndim != 1:
        raise _fail(path, f"{name} must be a 1-D integer array, got {array.dtype} {array.shape}")
    if array.dtype.kind == "u" and array.size and int(array.max()) >= 1 << 62:
        raise _fail(path, f"{name} holds an index of {int(array.max())}, out of range")
    return array.astype(np.int64)


def _matrix(arrays: Mapping[str, np.ndarray], prefix: str, sparse: bool, path: Path) -> Any:
    if not sparse:
        dense = _float_array(arrays, prefix, 2, path)
        if min(dense.shape) < 1:
            raise _fail(path, f"{prefix} has shape {dense.shape}; a layer needs rows and columns")
        return dense
    shape = _int_array(arrays, f"{prefix}.shape", path)
    if shape.shape != (2,) or shape.min() < 1 or shape.max() > 1 << 40:
        raise _fail(path, f"{prefix}.shape must hold two positive sizes, got {shape.tolist()}")
    rows, columns = int(shape[0]), int(shape[1])
    data = _float_array(arrays, f"{prefix}.data", 1, path)
    indices = _int_array(arrays, f"{prefix}.indices", path)
    indptr = _int_array(arrays, f"{prefix}.indptr", path)
    problem = csr_problem(indptr, indices, data.size, (rows, columns))
    if problem is not None:
        raise _fail(path, f"{prefix} is not a valid sparse matrix: {problem}")
    import scipy.sparse

    # Safe now: scipy only checks lengths, the indices were checked above.
    return scipy.sparse.csr_array((data, indices, indptr), shape=(rows, columns))


# -- 3. metadata against the weights ---------------------------------------------------


def check_metadata(metadata: Any, layers: Sequence[Any], where: str) -> None:
    """Refuse model metadata that is malformed or contradicts the layers.

    ``layers`` are :class:`~sortnet.nn.layer.Layer` objects; ``where`` starts each
    message (the file). Checked: ``n`` and the source network's ``n``; ``k`` an
    integer in ``1..n`` with one output, else ``n`` outputs; a known ``lowering``
    whose activations and layer kinds the layers have; ``bound`` a positive finite
    number up to ``2**120`` (required by counting models; allowed on any lowering, as
    ``compilers.compile(..., bound=)`` allows it and the executor enforces it);
    ``readout`` one-hot at ``k``; no ``digest`` entry (the digest ignores that key).

    Examples
    --------
    >>> from sortnet.nn.layer import Layer
    >>> layers = [Layer(np.eye(2), np.zeros(2), ("identity", "identity"))]
    >>> check_metadata({"n": 2, "lowering": "relu", "k": None}, layers, "m.npz")
    >>> check_metadata({"n": 2, "lowering": "relu", "k": 3}, layers, "m.npz")
    Traceback (most recent call last):
    ...
    sortnet.errors.ModelFormatError: m.npz: metadata k=3 is not an integer in 1..n=2
    """
    if not isinstance(metadata, dict):
        raise _fail(where, "metadata 'model' is not an object")
    n, outputs = layers[0].inputs, layers[-1].outputs

    def wrong(problem: str) -> ModelFormatError:
        return _fail(where, f"metadata {problem}")

    if "digest" in metadata:  # model_digest ignores this key, so it must not hide there
        raise wrong("holds a 'digest' entry; the digest belongs in the file header")
    if "n" in metadata and (type(metadata["n"]) is not int or metadata["n"] != n):
        raise wrong(f"n={metadata['n']!r} does not match the weights (n={n})")
    k = metadata.get("k")
    if k is not None and (type(k) is not int or not 1 <= k <= n):
        raise wrong(f"k={k!r} is not an integer in 1..n={n}")
    if k is not None and outputs != 1:
        raise wrong(f"k={k} but the model has {outputs} outputs (a k-th model has 1)")
    lowering = metadata.get("lowering")
    if lowering is not None and (
        not isinstance(lowering, str) or lowering not in LOWERING_ACTIVATIONS
    ):
        raise wrong(f"lowering {lowering!r} is unknown; known: {', '.join(LOWERING_ACTIVATIONS)}")
    if lowering is not None and k is None and outputs != n:
        raise wrong(f"k=None (a full sort) but the model has {outputs} outputs for n={n}")
    _check_bound(metadata.get("bound"), lowering, wrong)
    _check_steepness(metadata.get("steepness"), lowering, wrong)
    source = metadata.get("source")
    if source is not None:
        _check_source(source, n, lowering, wrong)
    if lowering is not None:
        _check_lowering(lowering, layers, wrong)
    readout = metadata.get("readout")
    if readout is not None:
        descending = bool(source.get("descending")) if isinstance(source, dict) else False
        _check_readout(readout, n, k, descending, wrong)


def _check_steepness(steepness: Any, lowering: Any, wrong: Any) -> None:
    # The steepness is folded into the weights; the stored value describes them (and
    # sets the error bound), so it must be present, and only, on softplus models.
    if lowering != "softplus":
        if steepness is not None:
            raise wrong(f"steepness={steepness!r} on a {lowering!r} model (softplus only)")
        return
    if type(steepness) not in (int, float) or not (
        math.isfinite(steepness) and 2.0**-20 <= steepness <= 2.0**60
    ):
        raise wrong(f"steepness={steepness!r} is not a number in [2**-20, 2**60]")


def _check_bound(bound: Any, lowering: Any, wrong: Any) -> None:
    if bound is None:
        if lowering == "counting":
            raise wrong("has no bound, which a counting model needs (big-M gating)")
        return
    if type(bound) not in (int, float) or not (math.isfinite(bound) and 0 < bound <= MAX_BOUND):
        raise wrong(f"bound={bound!r} is not a positive finite number <= 2**120")


def _check_source(source: Any, n: int, lowering: Any, wrong: Any) -> None:
    if not isinstance(source, dict):
        raise wrong("'source' is not an object")
    if "n" in source and (type(source["n"]) is not int or source["n"] != n):
        raise wrong(f"source network n={source['n']!r} does not match the weights (n={n})")
    if not isinstance(source.get("descending", False), bool):
        raise wrong("source 'descending' must be true or false")
    kind = source.get("kind")
    if (
        kind is not None
        and lowering is not None
        and (kind == "counting") != (lowering == "counting")
    ):
        raise wrong(f"a {kind!r} source network cannot have the {lowering!r} lowering")
    comparators = source.get("comparators")
    if comparators is None:
        return
    if (
        not isinstance(comparators, list)
        or len(comparators) > MAX_COMPARATORS
        or not all(
            isinstance(pair, list)
            and len(pair) == 2
            and all(type(wire) is int and 0 <= wire < n for wire in pair)
            for pair in comparators
        )
    ):
        raise wrong(f"source comparators must be pairs of wires in 0..{n - 1}")


def _check_lowering(lowering: str, layers: Sequence[Any], wrong: Any) -> None:
    allowed = LOWERING_ACTIVATIONS[lowering]
    used = {name for layer in layers for name in layer.activations}
    if not used <= allowed:
        raise wrong(
            f"lowering {lowering!r} but the layers use {sorted(used - allowed)} units "
            f"(it uses {sorted(allowed)})"
        )
    # A network without comparators (n = 1, say) compiles to one identity layer.
    trivial = len(layers) == 1 and not layers[0].residual and not layers[0].nonlinear
    residual = [layer.residual for layer in layers]
    blocks = lowering in RESIDUAL_LOWERINGS
    if blocks and not trivial and not all(residual):
        raise wrong(f"lowering {lowering!r} but not every layer is a residual block")
    if not blocks and any(residual):
        raise wrong(f"lowering {lowering!r} but the model has residual blocks")
    if not blocks and layers[-1].nonlinear:
        raise wrong(f"lowering {lowering!r} but the output layer is not all identity units")
    if lowering == "counting" and not trivial and not {"step", "indicator"} <= used:
        raise wrong("lowering 'counting' but the layers have no step and indicator units")


def _check_readout(readout: Any, n: int, k: Any, descending: bool, wrong: Any) -> None:
    if k is None:
        raise wrong("has a readout W3 but no k")
    position = n - k if descending else k - 1
    expected = [[1.0 if column == position else 0.0 for column in range(n)]]
    if readout != expected:
        raise wrong(f"readout W3 is not the 1 x {n} one-hot row at k={k}")


def parse_header(text: str, path: Path) -> Any:
    """The JSON header; any parse failure (including absurd nesting) is a format error."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as error:
        raise _fail(path, f"unreadable metadata ({error})") from None

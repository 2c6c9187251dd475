"""What :func:`sortnet.load_model` checks in a model file before it builds anything.

A model file is untrusted input: a crafted one must not crash the process (the numba
kernels and scipy's sparse routines index memory with the stored indices), exhaust
memory (every count and size in it is read from the file) or run with weights that
contradict its own description. So loading goes in steps, each bounded or checked:

1. :func:`read_archive`: the path is a regular file of bounded size; the zip
   directory declares bounded, plain (stored or deflated) ``.npy`` members; every
   ``.npy`` header declares a numeric dtype and a shape whose bytes are exactly the
   member's bytes, so nothing is allocated that the (size-capped) member does not hold.
2. :func:`checked_layers`: the JSON header's layer descriptions and every array:
   dtype, ndim, finiteness, CSR structure (indices in range, ``indptr`` monotone from
   0 to nnz), positive shapes chained layer to layer, activation run lengths that sum
   to the unit count before anything is expanded.
3. :func:`check_metadata`: the model metadata against the weights (``n``, ``k``,
   output width, lowering and activations, bound, readout, source network).

:mod:`sortnet.model_io` then builds the layers and compares the content digest.
"""

from __future__ import annotations

import json
import math
import os
import stat
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sortnet.activations import ACTIVATIONS
from sortnet.errors import ModelFormatError
from sortnet.model import csr_problem
from sortnet.validate import MAX_COMPARATORS, MAX_WIRES

#: Largest model file read (bytes on disk). Real models are far smaller: bitonic n=1024
#: (28160 comparators) with the relu lowering is 1.3 MB.
MAX_FILE_BYTES = 1 << 30
#: Largest total of the arrays and metadata once decompressed. The relu model of a
#: network at sortnet's limit of 2**20 comparators needs about 0.9 GB.
MAX_UNCOMPRESSED_BYTES = 1 << 30
#: Decompressed bytes per byte on disk allowed above :data:`RATIO_FREE_BYTES`: real
#: models compress 2-25 times; deflate reaches ~1000 on crafted data (a "zip bomb").
MAX_COMPRESSION_RATIO = 200
#: Archives this small (decompressed) are never refused for their compression ratio.
RATIO_FREE_BYTES = 16 << 20
#: Largest accepted ``bound`` (as ``compilers.compiling.MAX_BOUND``, which ``sortnet``
#: cannot import): keeps every sum of a counting model finite in float32.
MAX_BOUND = 2.0**120
#: The activations each lowering produces; a file claiming a lowering must use only these.
LOWERING_ACTIVATIONS = {
    "abs": {"abs", "identity"},
    "relu": {"relu", "identity"},
    "residual": {"relu", "identity"},
    "counting": {"step", "indicator", "relu", "identity"},
}
_NPY_MAGIC = b"\x93NUMPY"

__all__ = ["check_metadata", "checked_layers", "member_names", "read_archive"]


def _fail(path: Path, problem: str) -> ModelFormatError:
    # One line: the CLI prints the message as its only line on stderr.
    return ModelFormatError(f"{path}: {problem}".replace("\n", " "))


def _size(count: int) -> str:
    return f"{count / (1 << 20):.1f} MiB" if count >= 1 << 20 else f"{count} bytes"


# -- 1. the archive ------------------------------------------------------------------


def read_archive(path: Path) -> dict[str, np.ndarray]:
    """Every array of the model file at ``path``, read with bounded memory.

    Returns ``{name: array}`` with ``name`` the member name without ``.npy``. The file
    must be a regular file of at most :data:`MAX_FILE_BYTES`; its members must total
    at most :data:`MAX_UNCOMPRESSED_BYTES` decompressed (and at most
    :data:`MAX_COMPRESSION_RATIO` times the file size above :data:`RATIO_FREE_BYTES`).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ModelFormatError
        For anything else that is not a well-formed ``.npz`` of plain numeric arrays.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = Path(tmp) / "a.npz"
    ...     np.savez(path, x=np.arange(3.0))
    ...     read_archive(path)
    {'x': array([0., 1., 2.])}
    >>> read_archive(Path("/dev/zero"))
    Traceback (most recent call last):
    ...
    sortnet.errors.ModelFormatError: /dev/zero: not a regular file (a device, pipe or socket)...
    """
    info = os.stat(path)  # FileNotFoundError propagates: the CLI reports it as such
    _check_file_kind(path, info.st_mode, info.st_size)
    # O_NONBLOCK: if the path was swapped for a pipe since stat, open must not wait.
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(descriptor, "rb") as stream:
        opened = os.fstat(stream.fileno())
        _check_file_kind(path, opened.st_mode, opened.st_size)
        if stream.read(4) != b"PK\x03\x04":
            raise _fail(path, "not a model file (not an .npz archive)")
        stream.seek(0)
        try:
            with zipfile.ZipFile(stream) as archive:
                return _read_members(archive, path, opened.st_size)
        except ModelFormatError:
            raise
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as error:
            raise _fail(path, f"corrupt or truncated model file ({error})") from None
        except (ValueError, RuntimeError, NotImplementedError, UnicodeError) as error:
            raise _fail(path, f"corrupt model file ({error})") from None


def _check_file_kind(path: Path, mode: int, size: int) -> None:
    if stat.S_ISDIR(mode):
        raise _fail(path, "is a directory, not a model file")
    if not stat.S_ISREG(mode):
        raise _fail(path, "not a regular file (a device, pipe or socket), not a model file")
    if size == 0:
        raise _fail(path, "empty file, not a model file")
    if size > MAX_FILE_BYTES:
        raise _fail(
            path, f"{_size(size)} is more than the model file limit of {_size(MAX_FILE_BYTES)}"
        )


def _read_members(archive: zipfile.ZipFile, path: Path, file_size: int) -> dict[str, np.ndarray]:
    members = archive.infolist()
    names = [member.filename for member in members]
    if len(set(names)) != len(names):
        raise _fail(path, "corrupt model file (an archive member appears twice)")
    # Check the declared sizes before decompressing anything: a few KB can declare GBs.
    total = sum(member.file_size for member in members)
    limit = min(MAX_UNCOMPRESSED_BYTES, max(RATIO_FREE_BYTES, MAX_COMPRESSION_RATIO * file_size))
    if total > MAX_UNCOMPRESSED_BYTES:
        raise _fail(
            path,
            f"its arrays take {_size(total)} uncompressed, more than the limit of "
            f"{_size(MAX_UNCOMPRESSED_BYTES)}",
        )
    if total > limit:
        raise _fail(
            path,
            f"its arrays take {_size(total)} uncompressed, more than "
            f"{MAX_COMPRESSION_RATIO} times its size on disk (a compression bomb?)",
        )
    arrays = {}
    for member in members:
        if not member.filename.endswith(".npy"):
            raise _fail(path, f"not a model file (archive member {member.filename!r} is not .npy)")
        if member.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            # numpy writes only these; other decompressors are not size-bounded per read.
            raise _fail(path, f"{member.filename}: unsupported zip compression method")
        if member.flag_bits & 0x1:
            raise _fail(path, f"{member.filename}: encrypted archive member")
        with archive.open(member) as stream:
            arrays[member.filename[:-4]] = _read_npy(stream, member, path)
    return arrays


def _read_npy(stream: Any, member: zipfile.ZipInfo, path: Path) -> np.ndarray:
    """One ``.npy`` member: header checked, then exactly the bytes its shape needs."""
    name = member.filename
    if stream.read(len(_NPY_MAGIC)) != _NPY_MAGIC:
        raise _fail(path, f"{name}: not a .npy array")
    version = tuple(stream.read(2))
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
    else:
        raise _fail(path, f"{name}: unsupported .npy format version {version}")
    if dtype.hasobject:
        raise _fail(
            path,
            f"unreadable {name[:-4]} (it holds Python objects, which only pickle can load; "
            "sortnet reads with allow_pickle=False)",
        )
    if dtype.kind not in "biufcU" or dtype.fields or dtype.subdtype:
        raise _fail(path, f"{name}: dtype {dtype} is not a plain numeric array")
    if len(shape) > 2 or any(extent < 0 for extent in shape):
        raise _fail(path, f"{name}: shape {shape} is not an array of a model file")
    count = math.prod(shape)
    needed = count * dtype.itemsize
    if stream.tell() + needed != member.file_size:
        raise _fail(
            path,
            f"{name}: its header declares shape {shape} ({_size(needed)}) but the member "
            f"holds {_size(member.file_size - stream.tell())} of data",
        )
    data = stream.read(needed)
    if len(data) != needed:
        raise _fail(path, f"{name}: truncated array")
    stream.read(1)  # at the end of the member: zipfile compares its CRC-32 now
    array = np.frombuffer(data, dtype=dtype, count=count) if count else np.empty(0, dtype)
    return array.reshape(shape, order="F" if fortran else "C")


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
    """Keyword arguments of :class:`~sortnet.model.Layer`, one dict per layer, all checked.

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

    ``layers`` are :class:`~sortnet.model.Layer` objects; ``where`` starts each
    message (the file). Checked: ``n`` and the source network's ``n``; ``k`` an
    integer in ``1..n`` with one output, else ``n`` outputs; a known ``lowering``
    whose activations and layer kinds the layers have; ``bound`` a positive finite
    number up to ``2**120`` (required by counting models); ``readout`` one-hot at ``k``.

    Examples
    --------
    >>> from sortnet.model import Layer
    >>> layers = [Layer(np.eye(2), np.zeros(2), ("identity", "identity"))]
    >>> check_metadata({"n": 2, "lowering": "relu", "k": None}, layers, "m.npz")
    >>> check_metadata({"n": 2, "lowering": "relu", "k": 3}, layers, "m.npz")
    Traceback (most recent call last):
    ...
    sortnet.errors.ModelFormatError: m.npz: metadata k=3 is not an integer in 1..n=2
    """
    here = Path(where)
    if not isinstance(metadata, dict):
        raise _fail(here, "metadata 'model' is not an object")
    n, outputs = layers[0].inputs, layers[-1].outputs

    def wrong(problem: str) -> ModelFormatError:
        return _fail(here, f"metadata {problem}")

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
    if lowering is not None and lowering not in LOWERING_ACTIVATIONS:
        raise wrong(f"lowering {lowering!r} is unknown; known: {', '.join(LOWERING_ACTIVATIONS)}")
    if lowering is not None and k is None and outputs != n:
        raise wrong(f"k=None (a full sort) but the model has {outputs} outputs for n={n}")
    _check_bound(metadata.get("bound"), lowering, wrong)
    source = metadata.get("source")
    if source is not None:
        _check_source(source, n, lowering, wrong)
    if lowering is not None:
        _check_lowering(lowering, layers, wrong)
    readout = metadata.get("readout")
    if readout is not None:
        descending = bool(source.get("descending")) if isinstance(source, dict) else False
        _check_readout(readout, n, k, descending, wrong)


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
    if lowering == "residual" and not trivial and not all(residual):
        raise wrong("lowering 'residual' but not every layer is a residual block")
    if lowering != "residual" and any(residual):
        raise wrong(f"lowering {lowering!r} but the model has residual blocks")
    if lowering != "residual" and layers[-1].nonlinear:
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

"""Model files: :class:`~sortnet.nn.model.CompiledModel` to and from ``.npz``, without pickle.

Layout (format version 2): a compressed ``.npz`` holding

* ``metadata``: a 1-element unicode array with a JSON object: ``format`` (``"sortnet-model"``),
  ``format_version``, ``sortnet_version``, ``digest`` (the model's content digest,
  :func:`sortnet.nn.digest.model_digest`), the model metadata (``source`` network name,
  kind and comparators, ``lowering``, ``k``, ``bound``, ``readout``) and, per layer,
  its activations (run-length encoded), labels and which matrices are stored sparse;
* ``layer{i}.bias`` and, for each matrix ``m`` of layer ``i`` (``weight``, and
  ``out_weight``/``skip`` for residual blocks), either ``layer{i}.{m}`` (dense) or
  ``layer{i}.{m}.data/.indices/.indptr/.shape`` (CSR).

Format version 1 (sortnet 0.1.0) is the same without ``digest``; it is read only on
request (``allow_missing_digest=True``), because a change to it cannot be detected.

Weights are stored as float32 when that is lossless (compiled weights are small
dyadic numbers), else float64. Files are written to a temporary name and renamed,
so a crash never leaves half a model behind. :func:`load_model` never unpickles,
bounds every size it reads (:mod:`sortnet.nn.npz_archive`), checks every array and
the metadata before building anything (:mod:`sortnet.nn.npz_checks`) and refuses
a file whose content no longer matches its digest. The digest covers every weight,
bias, activation and the model metadata (not the unit labels, which only annotate
summaries and drawings); it detects a changed file, it is not a signature: whoever
edits a file on purpose can recompute it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from sortnet.errors import ModelFormatError
from sortnet.io.atomic import atomic_write
from sortnet.nn import npz_checks as checks
from sortnet.nn.digest import model_digest
from sortnet.nn.layer import Layer, Matrix
from sortnet.nn.npz_archive import MAX_UNCOMPRESSED_BYTES, read_archive

if TYPE_CHECKING:
    from sortnet.nn.model import CompiledModel

__all__ = ["FORMAT", "FORMAT_VERSION", "ModelFormatError", "read_model", "save_model"]

FORMAT = "sortnet-model"
#: The version :func:`save_model` writes: 2 added the content digest.
FORMAT_VERSION = 2
#: Versions :func:`load_model` reads (1 only with ``allow_missing_digest=True``).
READABLE_VERSIONS = (1, 2)
#: The first version whose files always hold a digest.
DIGEST_SINCE = 2


def _compact(array: np.ndarray) -> np.ndarray:
    """float32 when that loses nothing (true for compiled weights), else float64."""
    small = array.astype(np.float32)
    return small if np.array_equal(small, array) else array


def _matrix_arrays(prefix: str, matrix: Matrix) -> tuple[dict[str, np.ndarray], bool]:
    if isinstance(matrix, np.ndarray):
        return {prefix: _compact(matrix)}, False
    arrays = {
        f"{prefix}.data": _compact(matrix.data),
        f"{prefix}.indices": matrix.indices.astype(np.int32),
        f"{prefix}.indptr": matrix.indptr.astype(np.int64),
        f"{prefix}.shape": np.array(matrix.shape, dtype=np.int64),
    }
    return arrays, True


def _run_length(names: tuple[str, ...]) -> list[list[Any]]:
    runs: list[list[Any]] = []
    for name in names:
        if runs and runs[-1][0] == name:
            runs[-1][1] += 1
        else:
            runs.append([name, 1])
    return runs


def save_model(model: CompiledModel, path: str | os.PathLike[str]) -> None:
    """Write ``model`` to ``path`` (``.npz``), atomically.

    Examples
    --------
    >>> import tempfile, pathlib, compilers, sortnet
    >>> model = compilers.compile(sortnet.Network.from_comparators(2, [(0, 1)]))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     save_model(model, pathlib.Path(tmp) / "m.npz")
    ...     layers, metadata = read_model(pathlib.Path(tmp) / "m.npz")
    >>> len(layers), metadata["lowering"]
    (2, 'relu')
    """
    from sortnet._version import __version__

    arrays: dict[str, np.ndarray] = {}
    layers_meta = []
    for index, layer in enumerate(model.layers):
        sparse = []
        for name, matrix in layer.matrices().items():
            stored, is_sparse = _matrix_arrays(f"layer{index}.{name}", matrix)
            arrays.update(stored)
            if is_sparse:
                sparse.append(name)
        arrays[f"layer{index}.bias"] = _compact(layer.bias)
        layers_meta.append(
            {
                "activations": _run_length(layer.activations),
                "labels": None if layer.labels is None else list(layer.labels),
                "residual": layer.residual,
                "sparse": sparse,
            }
        )
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "sortnet_version": __version__,
        # Computed now, not model.digest: that is cached, and metadata is a mutable dict.
        "digest": model_digest(model.layers, model.metadata),
        "model": model.metadata,
        "layers": layers_meta,
    }
    arrays["metadata"] = np.array([json.dumps(header)])
    _check_writable(model, arrays, path)

    def write(stream: BinaryIO) -> None:
        np.savez_compressed(stream, **arrays)  # type: ignore[arg-type]

    atomic_write(path, write, "model")


def _check_writable(model: CompiledModel, arrays: dict[str, np.ndarray], path: Any) -> None:
    """Refuse to write a file that :func:`load_model` would refuse to read."""
    where = f"cannot save model to {path}"
    for name, array in arrays.items():
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise ModelFormatError(f"{where}: {name} contains NaN or an infinity")
    checks.check_metadata(model.metadata, model.layers, where)
    total = sum(array.nbytes + 128 for array in arrays.values())  # 128: an .npy header
    if total > MAX_UNCOMPRESSED_BYTES:
        raise ModelFormatError(
            f"{where}: its arrays take {total / (1 << 20):.1f} MiB, more than the model file "
            f"limit of {MAX_UNCOMPRESSED_BYTES >> 20} MiB"
        )


def read_model(
    path: str | os.PathLike[str], *, allow_missing_digest: bool = False
) -> tuple[list[Layer], dict[str, Any]]:
    """Read the layers and metadata of a model file, checking everything in it first.

    :func:`sortnet.nn.model.load_model` builds the model from them: this module
    writes and reads the file format and never imports the model type, whose
    ``save`` method calls it (no import cycle).

    Every size is bounded before anything is allocated (:mod:`sortnet.nn.npz_archive`),
    every array, count and metadata field is checked before anything is built
    (:mod:`sortnet.nn.npz_checks`), then the content digest is recomputed and compared.
    Parameters, errors and the ``allow_missing_digest`` opt-in are those of
    :func:`sortnet.nn.model.load_model`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     bad = pathlib.Path(tmp) / "bad.npz"
    ...     _ = bad.write_bytes(b"not a zip")
    ...     read_model(bad)
    Traceback (most recent call last):
    ...
    sortnet.errors.ModelFormatError: ...bad.npz: not a model file (not an .npz archive)
    """
    if not isinstance(path, (str, os.PathLike)):
        raise ModelFormatError(f"path must be a str or path, got {type(path).__name__}")
    path = Path(path)
    arrays = read_archive(path)
    header = _read_header(arrays, path)
    layers_meta = checks.check_layer_meta(header.get("layers"), path)
    expected = checks.member_names(layers_meta)
    missing, extra = sorted(expected - set(arrays)), sorted(set(arrays) - expected)
    if missing:
        raise ModelFormatError(f"{path}: corrupt model file (missing array {missing[0]!r})")
    if extra:
        raise ModelFormatError(f"{path}: not a model file sortnet wrote (extra array {extra[0]!r})")
    specs = checks.checked_layers(layers_meta, arrays, path)
    layers = [Layer(**spec) for spec in specs]
    checks.check_metadata(header.get("model"), layers, str(path))
    _check_digest(header, layers, path, allow_missing_digest)
    return layers, header["model"]


def _read_header(arrays: dict[str, np.ndarray], path: Path) -> dict[str, Any]:
    if "metadata" not in arrays:
        raise ModelFormatError(f"{path}: not a sortnet model (no 'metadata' entry)")
    text = arrays["metadata"]
    if text.dtype.kind != "U" or text.shape != (1,):
        raise ModelFormatError(f"{path}: unreadable metadata (not one JSON string)")
    header = checks.parse_header(str(text[0]), path)
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ModelFormatError(f"{path}: not a sortnet model (format is not {FORMAT!r})")
    version = header.get("format_version")
    if type(version) is not int or version not in READABLE_VERSIONS:
        newer = type(version) is int and version > FORMAT_VERSION
        raise ModelFormatError(
            f"{path}: model format version {version!r} is not supported (this sortnet reads "
            f"versions {', '.join(map(str, READABLE_VERSIONS))}"
            + ("; it was written by a newer sortnet: upgrade)" if newer else ")")
        )
    if not isinstance(header.get("model"), dict):
        raise ModelFormatError(f"{path}: corrupt model file (metadata 'model' is not an object)")
    return header


def _check_digest(
    header: dict[str, Any], layers: list[Layer], path: Path, allow_missing: bool
) -> None:
    stored = header.get("digest")
    if stored is None:
        if header["format_version"] >= DIGEST_SINCE:
            # Format 2 always writes one: its absence means the header was edited.
            raise ModelFormatError(
                f"{path}: modified after it was written (its content digest was removed)"
            )
        if not allow_missing:
            raise ModelFormatError(
                f"{path}: has no content digest (format version 1, written by sortnet 0.1.0), "
                "so a modification cannot be detected; if you trust its origin, pass "
                "--allow-missing-digest to sortnet run, verify or info, or call "
                "load_model(path, allow_missing_digest=True) and save the model again to add one"
            )
        return
    actual = model_digest(layers, header["model"])
    if stored != actual:
        raise ModelFormatError(
            f"{path}: modified after it was written: its weights or metadata do not match "
            f"its content digest (stored {str(stored)[:16]}..., computed {actual[:16]}...)"
        )

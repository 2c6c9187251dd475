"""Model files: :class:`~sortnet.nn.model.CompiledModel` to and from ``.npz``, without pickle.

Layout (format version 1): a compressed ``.npz`` holding

* ``metadata``: a 1-element unicode array with a JSON object: ``format`` (``"sortnet-model"``),
  ``format_version``, ``sortnet_version``, the model metadata (``source`` network name,
  kind and comparators, ``lowering``, ``k``, ``bound``, ``readout``) and, per layer,
  its activations (run-length encoded), labels and which matrices are stored sparse;
* ``layer{i}.bias`` and, for each matrix ``m`` of layer ``i`` (``weight``, and
  ``out_weight``/``skip`` for residual blocks), either ``layer{i}.{m}`` (dense) or
  ``layer{i}.{m}.data/.indices/.indptr/.shape`` (CSR).

Weights are stored as float32 when that is lossless (compiled weights are small
dyadic numbers), else float64. Files are written to a temporary name and renamed,
so a crash never leaves half a model behind. :func:`load_model` reads with
``allow_pickle=False`` and turns anything that is not a sortnet model into a
:class:`ModelFormatError`.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from sortnet.errors import SortnetError
from sortnet.io.atomic import atomic_write
from sortnet.nn.layer import Layer, Matrix

if TYPE_CHECKING:
    from sortnet.nn.model import CompiledModel

FORMAT = "sortnet-model"
FORMAT_VERSION = 1


class ModelFormatError(SortnetError):
    """A model file is corrupt, truncated, foreign or from an unknown format version."""


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
        "model": model.metadata,
        "layers": layers_meta,
    }
    arrays["metadata"] = np.array([json.dumps(header)])

    def write(stream: BinaryIO) -> None:
        np.savez_compressed(stream, **arrays)  # type: ignore[arg-type]

    atomic_write(path, write, "model")


def _load_matrix(data: Any, prefix: str, sparse: bool) -> Matrix:
    if not sparse:
        return np.asarray(data[prefix], dtype=np.float64)
    import scipy.sparse

    shape = tuple(int(v) for v in data[f"{prefix}.shape"])
    return scipy.sparse.csr_array(
        (
            np.asarray(data[f"{prefix}.data"], dtype=np.float64),
            data[f"{prefix}.indices"],
            data[f"{prefix}.indptr"],
        ),
        shape=shape,
    )


def read_model(path: str | os.PathLike[str]) -> tuple[list[Layer], dict[str, Any]]:
    """Read the layers and metadata of a model written by :meth:`CompiledModel.save`.

    :func:`sortnet.nn.model.load_model` builds the model from them: this module
    writes and reads the file format and never imports the model type, whose
    ``save`` method calls it (no import cycle).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ModelFormatError
        If the file is not a readable sortnet model (corrupt, truncated, foreign,
        newer format version); the message says which.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     bad = pathlib.Path(tmp) / "bad.npz"
    ...     _ = bad.write_bytes(b"not a zip")
    ...     read_model(bad)
    Traceback (most recent call last):
    ...
    sortnet.nn.npz.ModelFormatError: ...bad.npz: not a model file (not an .npz archive)
    """
    if not isinstance(path, (str, os.PathLike)):
        raise ModelFormatError(f"path must be a str or path, got {type(path).__name__}")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(2, "No such file or directory", str(path))
    if path.is_dir():
        raise ModelFormatError(f"{path}: is a directory, not a model file")
    try:
        with np.load(path, allow_pickle=False) as data:
            return _read(data, path)
    except ModelFormatError:
        raise
    except (zipfile.BadZipFile, EOFError) as error:
        raise ModelFormatError(f"{path}: corrupt or truncated model file ({error})") from None
    except (OSError, ValueError) as error:
        if not zipfile.is_zipfile(path):
            raise ModelFormatError(f"{path}: not a model file (not an .npz archive)") from None
        raise ModelFormatError(f"{path}: corrupt model file ({error})") from None


def _read(data: Any, path: Path) -> tuple[list[Layer], dict[str, Any]]:
    if "metadata" not in getattr(data, "files", []):
        raise ModelFormatError(f"{path}: not a sortnet model (no 'metadata' entry)")
    try:
        header = json.loads(str(data["metadata"][0]))
    except (ValueError, IndexError) as error:
        raise ModelFormatError(f"{path}: unreadable metadata ({error})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ModelFormatError(f"{path}: not a sortnet model (format is not {FORMAT!r})")
    version = header.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFormatError(
            f"{path}: model format version {version!r} is not supported "
            f"(this sortnet reads version {FORMAT_VERSION})"
        )
    layers = []
    try:
        for index, meta in enumerate(header["layers"]):
            sparse = set(meta["sparse"])
            matrices = {
                name: _load_matrix(data, f"layer{index}.{name}", name in sparse)
                for name in (("weight", "out_weight", "skip") if meta["residual"] else ("weight",))
            }
            activations = tuple(name for name, count in meta["activations"] for _ in range(count))
            labels = meta.get("labels")
            layers.append(
                Layer(
                    bias=np.asarray(data[f"layer{index}.bias"], dtype=np.float64),
                    activations=activations,
                    labels=None if labels is None else tuple(labels),
                    **matrices,
                )
            )
        if not isinstance(header["model"], dict):
            raise TypeError("the model metadata is not a mapping")
        return layers, header["model"]
    except (KeyError, TypeError, ValueError) as error:
        raise ModelFormatError(f"{path}: corrupt model file ({error})") from None

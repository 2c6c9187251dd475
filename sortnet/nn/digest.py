"""Content digests: one SHA-256 over everything that determines a model's output.

A digest names a compiled model by its content (every weight, bias, activation and
the metadata), not by where it came from. The dask engine keys its tasks with it (two
models with equal metadata but different weights must never share a task), and model
files store it so a file modified after it was written is refused on load.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

__all__ = ["matrix_bytes", "model_digest"]


def matrix_bytes(matrix: Any) -> Iterable[bytes]:
    """Canonical bytes of a dense or CSR matrix: kind, shape, then its arrays.

    Dense and sparse forms of one matrix give different bytes; that only costs a
    cache miss, never a wrong answer. Sparse arrays are hashed in canonical form
    (sorted indices, duplicates summed) so equal CSR matrices hash equal.
    """
    if isinstance(matrix, np.ndarray):
        array = np.ascontiguousarray(matrix, dtype=np.float64)
        yield b"dense" + repr(array.shape).encode()
        yield array.tobytes()
        return
    csr = matrix.tocsr(copy=True)
    csr.sum_duplicates()
    csr.sort_indices()
    yield b"csr" + repr(tuple(csr.shape)).encode()
    yield np.ascontiguousarray(csr.indptr, dtype=np.int64).tobytes()
    yield np.ascontiguousarray(csr.indices, dtype=np.int64).tobytes()
    yield np.ascontiguousarray(csr.data, dtype=np.float64).tobytes()


def model_digest(layers: Iterable[Any], metadata: Mapping[str, Any]) -> str:
    """Hex SHA-256 of a model's layers and metadata (keys sorted, JSON).

    Parameters
    ----------
    layers : iterable of Layer
        Each layer's ``weight``, ``bias``, ``activations`` and, on a residual block,
        ``out_weight`` and ``skip`` are hashed, in order.
    metadata : mapping
        JSON-serialisable metadata; a ``"digest"`` entry is ignored so a stored digest
        can be checked against the content it describes.

    Examples
    --------
    >>> from sortnet.nn.model import Layer
    >>> a = [Layer([[1.0, 0.0]], [0.0], ("identity",))]
    >>> b = [Layer([[-1.0, 0.0]], [0.0], ("identity",))]
    >>> model_digest(a, {"k": 1}) == model_digest(b, {"k": 1})
    False
    >>> len(model_digest(a, {"k": 1}))
    64
    """
    hasher = hashlib.sha256(b"sortnet-model-v1")
    for index, layer in enumerate(layers):
        hasher.update(f"layer{index}".encode())
        for part in matrix_bytes(layer.weight):
            hasher.update(part)
        hasher.update(np.ascontiguousarray(layer.bias, dtype=np.float64).tobytes())
        hasher.update(json.dumps(list(layer.activations)).encode())
        if layer.out_weight is not None:
            for part in matrix_bytes(layer.out_weight):
                hasher.update(part)
            for part in matrix_bytes(layer.skip):
                hasher.update(part)
    plain = {key: value for key, value in metadata.items() if key != "digest"}
    hasher.update(json.dumps(plain, sort_keys=True).encode())
    return hasher.hexdigest()

"""The neural runtime: compiled models as data, and everything that runs or stores them.

:mod:`~sortnet.nn.model` (``CompiledModel``, ``Layer``), :mod:`~sortnet.nn.activations`,
:mod:`~sortnet.nn.executor` (``model(X)``), :mod:`~sortnet.nn.kernels` /
:mod:`~sortnet.nn.codegen` / :mod:`~sortnet.nn.intrinsics` (the numba engine),
:mod:`~sortnet.nn.npz` (model files), :mod:`~sortnet.nn.onnx_export`,
:mod:`~sortnet.nn.checks` (checks through the weights), :mod:`~sortnet.nn.digest` and
:mod:`~sortnet.nn.dask`. The compilers build models from the IR and import only
:mod:`sortnet.nn.model` from here, so this package init stays light: it loads the model
types and nothing else. The neural runtime never imports the circuit runtime or the
compilers (ARCHITECTURE.md, "Import rules").
"""

from __future__ import annotations

from sortnet.nn.model import CompiledModel, Layer

__all__ = ["CompiledModel", "Layer"]

"""The circuit runtime: the exact min/max reference executor of comparator networks.

:mod:`~sortnet.circuit.run` (``sort``, ``argsort``: checks, blocks, the numpy path),
:mod:`~sortnet.circuit.kernels` (compiled straight-line kernels, cached),
:mod:`~sortnet.circuit.codegen` (their source), :mod:`~sortnet.circuit.intrinsics`
(the numba helpers that source calls) and :mod:`~sortnet.circuit.dask` (lazy runs on
dask arrays). It imports the IR and the JIT layer (:mod:`sortnet._jit`), never the
neural runtime, the compilers or a renderer (ARCHITECTURE.md, "Import rules").
"""

from __future__ import annotations

from sortnet.circuit.run import argsort, sort

__all__ = ["argsort", "sort"]

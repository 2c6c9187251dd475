"""compilers: lower sortnet networks to exact neural networks.

:func:`compile` is the whole pipeline; see :mod:`compilers.compiling`. The
lowering rules live in :mod:`compilers.gadgets` (comparators) and
:mod:`compilers.lower_counting` (rank counting), fusion in :mod:`compilers.fuse`,
the output map and k-th readout in :mod:`compilers.output`, ONNX export in
:mod:`sortnet.nn.onnx_export`.
"""

from __future__ import annotations

from compilers.compiling import DEFAULT_BOUND, LOWERING_NAMES, CompileError, compile

__all__ = ["DEFAULT_BOUND", "LOWERING_NAMES", "CompileError", "compile"]

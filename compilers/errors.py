"""The compilers' error: a network that cannot be compiled with the options asked for."""

from __future__ import annotations

from sortnet.errors import SortnetError

__all__ = ["CompileError"]


class CompileError(SortnetError):
    """A network cannot be compiled with the requested options."""

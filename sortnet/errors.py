"""Exceptions raised by sortnet for bad input.

Every error a user can cause derives from :class:`SortnetError` (itself a
``ValueError``), so the CLI can turn them into one line on stderr and exit code 2.
"""

from __future__ import annotations


class SortnetError(ValueError):
    """Base class of the errors a user's input can cause."""


class InvalidNetworkError(SortnetError):
    """A network violates the IR schema; ``violations`` lists every reason."""

    def __init__(self, violations: list[str]) -> None:
        self.violations = list(violations)
        shown = "; ".join(self.violations[:10])
        more = len(self.violations) - 10
        if more > 0:
            shown += f"; ... and {more} more"
        super().__init__(f"invalid network: {shown}")


class NetworkFormatError(SortnetError):
    """A network file or text could not be parsed."""


class InputError(SortnetError):
    """An input batch has the wrong shape, width, dtype or values."""


class ModelFormatError(SortnetError):
    """A model file is corrupt, truncated, foreign, modified or from an unknown format version."""


class TooMuchWorkError(SortnetError):
    """A job would take too long or need too much memory; refused before it starts.

    The message gives the estimate, the limit and how to ask for less (fewer rows,
    a randomized check, another file format). ``estimate`` and ``limit`` hold the
    two numbers (seconds or bytes, as the message says).
    """

    def __init__(self, message: str, *, estimate: float, limit: float) -> None:
        super().__init__(message)
        self.estimate = estimate
        self.limit = limit

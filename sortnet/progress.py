"""A small progress-bar helper shared by long-running jobs (verification, benchmarks).

:func:`progress` gives a tqdm bar when tqdm is installed and the user asked for one
(``enabled=True``), or by default when stderr is a terminal; otherwise it is silent
and costs nothing, so library code can always call ``bar.update(...)``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol


class Bar(Protocol):
    """What callers may use: ``update(count)``."""

    def update(self, n: float = 1) -> object: ...


class _SilentBar:
    """A bar that shows nothing; keeps call sites free of ``if bar:`` checks."""

    def update(self, n: float = 1) -> None:
        return None


def wants_bar(enabled: bool | None) -> bool:
    """Whether a bar should be shown: ``enabled`` if given, else "stderr is a terminal".

    Examples
    --------
    >>> wants_bar(False)
    False
    """
    if enabled is not None:
        return bool(enabled)
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


@contextmanager
def progress(
    total: float | None, *, desc: str = "", unit: str = "it", enabled: bool | None = None
) -> Iterator[Bar]:
    """A progress bar over ``total`` units, as a context manager.

    Parameters
    ----------
    total : float or None
        Units of work expected (None when unknown).
    desc : str
        A short label shown before the bar.
    unit : str
        Name of one unit (``"it"``, ``"patterns"``, ...).
    enabled : bool or None
        True shows a bar (when tqdm is installed), False never does, None shows one
        when stderr is a terminal.

    Yields
    ------
    Bar
        An object with ``update(n)``; silent when no bar is shown.

    Examples
    --------
    >>> with progress(10, desc="work", enabled=False) as bar:
    ...     for _ in range(10):
    ...         bar.update(1)
    """
    if not wants_bar(enabled):
        yield _SilentBar()
        return
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm is an optional extra; without it stay silent
        yield _SilentBar()
        return
    bar = tqdm(total=total, desc=desc, unit=unit, unit_scale=True, leave=False, file=sys.stderr)
    try:
        yield bar
    finally:
        bar.close()

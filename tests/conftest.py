"""Shared fixtures: the SorterHunter networks shipped in ``tests/data``."""

from __future__ import annotations

from pathlib import Path

import pytest

SORTERHUNTER = Path(__file__).resolve().parent / "data" / "sorterhunter"


@pytest.fixture(scope="session")
def sorterhunter_dir() -> Path:
    """``tests/data/sorterhunter``: a few SorterHunter networks (see its README.md)."""
    return SORTERHUNTER

"""Shared fixtures: the SorterHunter test data beside the repository."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "sorterhunter"


@pytest.fixture(scope="session")
def sorterhunter_dir() -> Path:
    """``../shared/data/sorterhunter``; the test is skipped when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"SorterHunter data not found at {SHARED_DATA}")
    return SHARED_DATA

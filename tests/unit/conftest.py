"""Fixtures of the profiler's unit tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def broken_numbers(monkeypatch):
    """Numeric columns fail to profile (RuntimeError "boom"); every other kind still works."""
    from ddtrack.profile import _columns

    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(_columns, "numeric_column", boom)

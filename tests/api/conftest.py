"""Fixtures shared by the REST service's tests."""

from __future__ import annotations

import pytest
from fake_clock import Clock


@pytest.fixture
def clock() -> Clock:
    """The loop's clock, in 2027: the tests move it by hand."""
    return Clock(1_800_000_000.0)

"""Fixtures for the embedded learner: a database per test (SQLite, and PostgreSQL when TEST_DATABASE_URL is set)."""

from __future__ import annotations

import pytest
from fake_clock import Clock

from bot.personalizer.base import RankableAction

DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, fresh_database) -> str:
    """A fresh, empty database for one test (tests/conftest.py makes it)."""
    return fresh_database(request.param)


SEED_ACTIONS = [
    RankableAction(
        "pasta", [{"taste": "salty", "spice_level": "medium"}, {"nutrition_level": 5, "cuisine": "italian"}]
    ),
    RankableAction("ice cream", [{"taste": "sweet", "spice_level": "none"}, {"nutritional_level": 2}]),
    RankableAction(
        "juice", [{"taste": "sweet", "spice_level": "none"}, {"nutritional_level": 5}, {"drink": True}]
    ),
    RankableAction("salad", [{"taste": "salty", "spice_level": "none"}, {"nutritional_level": 2}]),
]
SEED_CONTEXT = [{"taste_preference": "sweet"}, {"time_of_day": "evening"}]

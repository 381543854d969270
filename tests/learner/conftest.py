"""Fixtures for the embedded learner: a database per test (SQLite, and PostgreSQL when TEST_DATABASE_URL is set)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from bot.db import create_database_engine
from bot.personalizer.base import RankableAction

DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


class Clock:
    """An injected clock: tests move time, nothing sleeps."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A fresh, empty database for one test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/learner.db"
        return
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip("PostgreSQL tests need TEST_DATABASE_URL (.ci/run sets it)")
    engine = create_database_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    yield url


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

"""build_services: the real learner behind a rank deadline, the menu and the suggestion store."""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import load_config
from bot.personalizer.base import RankerUnavailable, RankRequest
from bot.services import RANKER_TIMEOUT, Services, build_services


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    """Services on a fresh SQLite file, trainer off."""
    config = load_config({"DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}"}, "console")
    built = build_services(config, run_trainer=False)
    yield built
    built.close()


def _request(services: Services) -> RankRequest:
    return RankRequest(
        context_features=[{"taste_preference": "salty"}, {"time_of_day": "night"}, {"user": "U1"}],
        actions=services.menu.actions(),
        excluded_actions=services.menu.excluded(),
        event_id=str(uuid.uuid4()),
    )


def test_rank_and_reward_reach_the_learner(services: Services) -> None:
    request = _request(services)
    result = services.ranker.rank(request)
    assert result.event_id == request.event_id
    assert result.reward_action_id != "juice"
    assert {r.id for r in result.ranking} == {d.id for d in services.menu.dishes}
    services.ranker.reward(result.event_id, 1.0)


def test_a_stuck_database_makes_rank_give_up_in_time(services: Services, tmp_path: Path) -> None:
    services.ranker.rank(_request(services))  # warm: tables exist, first write done
    blocker = sqlite3.connect(tmp_path / "app.db", timeout=0, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # another process holding the write lock
    try:
        started = time.monotonic()
        with pytest.raises(RankerUnavailable):
            services.ranker.rank(_request(services))
        assert RANKER_TIMEOUT <= time.monotonic() - started < RANKER_TIMEOUT + 0.5
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    services.ranker.rank(_request(services))  # and it recovers once the lock is gone

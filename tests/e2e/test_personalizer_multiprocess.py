"""More than one process on PostgreSQL: two bot workers and one Personalizer service, all on loopback.

The suggestion is ranked by one worker, the 👍 reaches the other (as a load balancer would send it), and the
reward is stored once and learned exactly once by the service's trainer.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from slack_fakes import (
    FakeSlack,
    RunningApp,
    app_environment,
    block_action,
    free_port,
    start_app,
    taste_state,
)
from sqlalchemy import Engine, func, select

from blocks import ids
from bot.db import create_database_engine
from bot.personalizer.local import store

pytestmark = pytest.mark.postgres
KEY = "multi-process-key"


@pytest.fixture(scope="module")
def postgres_url(fresh_database: Callable[[str], str]) -> str:
    """An empty PostgreSQL database: the three processes share it as production shares DATABASE_URL."""
    return fresh_database("postgresql")


@pytest.fixture(scope="module")
def service(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    workdir = tmp_path_factory.mktemp("pz_service")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOST": "127.0.0.1",
        "PORT": str(free_port()),
        "DATABASE_URL": postgres_url,
        "PERSONALIZER_KEY": KEY,
        "PERSONALIZER_MODEL_UPDATE_FREQUENCY": "PT1S",
    }
    running = start_app(env, workdir, args=("personalizer",))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def workers(
    fake_slack: FakeSlack, service: RunningApp, postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningApp, RunningApp]]:
    """Two `python app.py` HTTP workers on the azure backend, pointed at the service, sharing PostgreSQL."""
    started = []
    try:
        for name in ("worker_a", "worker_b"):
            env = app_environment(
                fake_slack,
                tmp_path_factory.mktemp(name),
                DATABASE_URL=postgres_url,
                PERSONALIZER_BACKEND="azure",
                PERSONALIZER_ENDPOINT=service.base_url,
                PERSONALIZER_KEY=KEY,
            )
            started.append(start_app(env, tmp_path_factory.mktemp(f"{name}_run")))
        yield started[0], started[1]
    finally:
        for worker in started:
            worker.stop()


@pytest.fixture(scope="module")
def database(postgres_url: str) -> Iterator[Engine]:
    engine = create_database_engine(postgres_url)
    yield engine
    engine.dispose()


def test_a_vote_on_the_other_worker_is_learned_exactly_once(
    workers: tuple[RunningApp, RunningApp], fake_slack: FakeSlack, response_url: Any, database: Engine
) -> None:
    worker_a, worker_b = workers
    name, url = response_url
    state = taste_state("sweet")
    assert worker_a.action(block_action(ids.SUGGEST, url, value="|evening", state=state)).status_code == 200
    suggestion = fake_slack.wait_for_responses(name, timeout=10)[0]
    vote_block = next(b for b in suggestion["blocks"] if b.get("block_id") == ids.VOTE_BLOCK)
    event_id = vote_block["elements"][0]["value"]
    assert store.get_event(database, event_id) is not None, "worker A's rank is not in the service's log"

    # 👍 reaches worker B, which never saw this suggestion; then a stray double click reaches worker A.
    assert worker_b.action(block_action(ids.VOTE_UP, url, value=event_id)).status_code == 200
    fake_slack.wait_for_responses(name, 2, timeout=10)
    assert worker_a.action(block_action(ids.VOTE_UP, url, value=event_id)).status_code == 200
    time.sleep(0.5)  # the second click is refused by the shared suggestion row; give it time to (not) arrive

    assert [value for value, _ in store.event_rewards(database, event_id)] == [1.0]
    wait_until_learned(database, event_id)
    event = store.get_event(database, event_id)
    assert event is not None and event["learned_value"] == 1.0
    with database.connect() as conn:
        learned = conn.execute(
            select(func.count()).select_from(store.events).where(store.events.c.state == store.LEARNED)
        ).scalar_one()
    latest = store.latest_model(database)
    assert latest is not None and latest.learned_events == learned == 1  # one event, learned once


def wait_until_learned(database: Engine, event_id: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while (event := store.get_event(database, event_id)) is None or event["state"] != store.LEARNED:
        assert time.monotonic() < deadline, f"event {event_id} was not learned within {timeout}s"
        time.sleep(0.2)

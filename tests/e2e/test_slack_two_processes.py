"""Two app processes on one database, as behind a load balancer: a click counts once wherever it lands."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from slack_fakes import FakeSlack, RunningApp, app_environment, block_action, sign, start_app, taste_state
from sqlalchemy import Engine

from blocks import ids
from bot.db import create_database_engine
from bot.personalizer.local import store


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, fresh_database: Callable[[str], str]) -> str:
    """A fresh database shared by the two processes: SQLite, and PostgreSQL when TEST_DATABASE_URL is set."""
    return fresh_database(request.param)


@pytest.fixture(scope="module")
def two_apps(
    database_url: str, fake_slack: FakeSlack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningApp, RunningApp]]:
    """Two `python app.py` processes on one DATABASE_URL, as behind a load balancer."""
    # Both at once, as a deploy starts them: both create the schema of a fresh database together.
    workdirs = [tmp_path_factory.mktemp("app") for _ in range(2)]
    with ThreadPoolExecutor(2) as pool:
        env = [app_environment(fake_slack, w, DATABASE_URL=database_url) for w in workdirs]
        starting = [pool.submit(start_app, e, w) for e, w in zip(env, workdirs, strict=True)]
    apps = [f.result() for f in starting if f.exception() is None]
    if len(apps) < 2:
        for app in apps:
            app.stop()
        raise next(f.exception() for f in starting if f.exception() is not None)
    yield apps[0], apps[1]
    for app in apps:
        app.stop()


@pytest.fixture(scope="module")
def shared_db(database_url: str, two_apps: tuple[RunningApp, RunningApp]) -> Iterator[Engine]:
    """The shared database, to read what the learner logged."""
    engine = create_database_engine(database_url)
    yield engine
    engine.dispose()


def _event_id(message: dict[str, Any]) -> str:
    return next(b for b in message["blocks"] if b.get("block_id") == ids.VOTE_BLOCK)["elements"][0]["value"]


def test_simultaneous_votes_on_two_processes_count_once(
    two_apps: tuple[RunningApp, RunningApp], fake_slack: FakeSlack, response_url: Any, shared_db: Engine
) -> None:
    slack_app, second_app = two_apps
    name, url = response_url
    state = taste_state("salty")
    slack_app.action(block_action(ids.SUGGEST, url, value="|evening", state=state))
    event_id = _event_id(fake_slack.wait_for_responses(name)[0])

    clicks = [(app, action) for app in (slack_app, second_app) for action in (ids.VOTE_UP, ids.VOTE_DOWN)] * 2
    start = threading.Barrier(len(clicks))

    def click(target: tuple[RunningApp, str]) -> int:
        app, action = target
        body = urlencode({"payload": json.dumps(block_action(action, url, value=event_id))})
        with requests.Session() as session:
            session.get(f"{app.base_url}/healthz")
            start.wait()
            return session.post(f"{app.base_url}/slack/events", data=body, headers=sign(body)).status_code

    with ThreadPoolExecutor(len(clicks)) as pool:
        assert list(pool.map(click, clicks)) == [200] * len(clicks)
    fake_slack.wait_for_responses(name, 1 + len(clicks))
    rewards = [v for v, _ in store.event_rewards(shared_db, event_id)]
    assert len(rewards) == 1 and rewards[0] in (0.0, 1.0)


def test_a_suggestion_made_on_one_process_is_continued_on_the_other(
    two_apps: tuple[RunningApp, RunningApp], fake_slack: FakeSlack, response_url: Any, shared_db: Engine
) -> None:
    slack_app, second_app = two_apps
    name, url = response_url
    slack_app.command("sweet morning", url)
    event_id = _event_id(fake_slack.wait_for_responses(name)[0])
    second_app.action(block_action(ids.VOTE_DOWN, url, value=event_id))
    voted = fake_slack.wait_for_responses(name, 2)[1]
    assert [e["action_id"] for b in voted["blocks"] for e in b.get("elements", []) if "action_id" in e] == [
        ids.TRY_ANOTHER
    ]
    slack_app.action(block_action(ids.TRY_ANOTHER, url, value=event_id))
    retried = fake_slack.wait_for_responses(name, 3)[2]
    assert _event_id(retried) != event_id
    assert [v for v, _ in store.event_rewards(shared_db, event_id)] == [0.0]

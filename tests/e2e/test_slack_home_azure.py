"""The Home tab on PERSONALIZER_BACKEND=azure: its ranks reach the Personalizer service deferred, never learned."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from slack_fakes import FakeSlack, RunningApp, app_environment, free_port, sign, start_app
from sqlalchemy import Engine, select

from bot.db import create_database_engine
from bot.personalizer.local import store

KEY = "pz-home-key"
CONTEXTS = 8


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    """`python app.py personalizer` whose rewards wait 5 s, so unrewarded events settle within the test."""
    workdir = tmp_path_factory.mktemp("home_service")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOST": "127.0.0.1",
        "PORT": str(free_port()),
        "DATABASE_URL": f"sqlite:///{workdir / 'pz.db'}",
        "PERSONALIZER_KEY": KEY,
        "PERSONALIZER_REWARD_WAIT_TIME": "5",
        "PERSONALIZER_MODEL_UPDATE_FREQUENCY": "1",
    }
    running = start_app(env, workdir, args=("personalizer",))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def bot(
    fake_slack: FakeSlack, service: RunningApp, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningApp]:
    workdir = tmp_path_factory.mktemp("home_azure_bot")
    env = app_environment(
        fake_slack,
        workdir,
        PERSONALIZER_BACKEND="azure",
        PERSONALIZER_ENDPOINT=service.base_url,
        PERSONALIZER_KEY=KEY,
    )
    running = start_app(env, workdir)
    yield running
    running.stop()


def _events_of(engine: Engine, user: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(store.events))]
    return [r for r in rows if {"user": user} in json.loads(r["context"])]


def test_the_home_tab_through_microsofts_client_logs_nothing_that_will_be_learned(
    bot: RunningApp, fake_slack: FakeSlack, service: RunningApp, validate_view: Any
) -> None:
    user = "U5AZHOME"
    body = json.dumps(
        {
            "type": "event_callback",
            "team_id": "T0FAKE",
            "api_app_id": "A0FAKE",
            "event_id": "Ev0AZHOME",
            "event_time": int(time.time()),
            "event": {"type": "app_home_opened", "user": user, "channel": "D0", "tab": "home"},
        }
    )
    assert bot.post(body, {**sign(body), "Content-Type": "application/json"}).status_code == 200
    views = fake_slack.wait(
        lambda: [c["view"] for c in fake_slack.api_calls("views.publish") if c["user_id"] == user],
        1,
        10,
        "views.publish",
    )
    view = json.loads(views[0]) if isinstance(views[0], str) else views[0]
    validate_view(view)
    assert "can't reach the recommender" not in json.dumps(view)
    engine = create_database_engine(service.database_url)
    try:
        rows = _events_of(engine, user)
        assert len(rows) == CONTEXTS and all(r["deferred"] and r["activated_at"] is None for r in rows)
        sentinel_url = fake_slack.response_url("az-sentinel")
        bot.command("sweet night", sentinel_url, user="U5AZSENTINEL")
        fake_slack.wait_for_responses("az-sentinel")
        sentinel = _events_of(engine, "U5AZSENTINEL")[0]["event_id"]
        deadline = time.monotonic() + 60
        while store.get_event(engine, sentinel)["state"] != store.LEARNED:
            assert time.monotonic() < deadline, "the service never learned the sentinel"
            time.sleep(0.5)  # waiting for the reward window to close, not timing anything
        assert {r["state"] for r in _events_of(engine, user)} == {store.NEVER_LEARNED}
    finally:
        engine.dispose()

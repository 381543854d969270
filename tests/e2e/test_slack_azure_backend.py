"""The bot on PERSONALIZER_BACKEND=azure: Microsoft's client against this project's Personalizer service."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
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
from sqlalchemy import Engine

from blocks import ids
from bot.db import create_database_engine
from bot.personalizer.local import store

KEY = "pz-test-key"


@pytest.fixture(scope="module")
def personalizer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    """`python app.py personalizer` on loopback, with its own database."""
    workdir = tmp_path_factory.mktemp("personalizer")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOST": "127.0.0.1",
        "PORT": str(free_port()),
        "DATABASE_URL": f"sqlite:///{workdir / 'pz.db'}",
        "PERSONALIZER_KEY": KEY,
    }
    service = start_app(env, workdir, args=("personalizer",))
    yield service
    service.stop()


@pytest.fixture(scope="module")
def personalizer_db(personalizer: RunningApp) -> Iterator[Engine]:
    """The Personalizer service's database, where its events and rewards are logged."""
    engine = create_database_engine(personalizer.database_url)
    yield engine
    engine.dispose()


def _bot(fake: FakeSlack, workdir: Path, endpoint: str, key: str) -> RunningApp:
    env = app_environment(
        fake, workdir, PERSONALIZER_BACKEND="azure", PERSONALIZER_ENDPOINT=endpoint, PERSONALIZER_KEY=key
    )
    return start_app(env, workdir)


@pytest.fixture(scope="module")
def azure_bot(
    fake_slack: FakeSlack, personalizer: RunningApp, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningApp]:
    """The bot ranking through PersonalizerClient at the service above."""
    bot = _bot(fake_slack, tmp_path_factory.mktemp("azure_bot"), personalizer.base_url, KEY)
    yield bot
    bot.stop()


def test_suggest_and_vote_go_through_the_official_client(
    azure_bot: RunningApp, fake_slack: FakeSlack, response_url: Any, personalizer_db: Engine
) -> None:
    name, url = response_url
    state = taste_state("salty")
    azure_bot.action(block_action(ids.SUGGEST, url, value="|night", state=state))
    message = fake_slack.wait_for_responses(name)[0]
    event_id = next(b for b in message["blocks"] if b.get("block_id") == ids.VOTE_BLOCK)["elements"][0][
        "value"
    ]
    event = store.get_event(personalizer_db, event_id)
    assert event is not None, "the rank did not reach the Personalizer service"
    assert json.loads(event["context"])[:2] == [{"taste_preference": "salty"}, {"time_of_day": "night"}]
    assert message["blocks"][0]["text"]["text"] == f"How about {event['chosen_id']}?"

    azure_bot.action(block_action(ids.VOTE_UP, url, value=event_id))
    fake_slack.wait_for_responses(name, 2)
    assert [v for v, _ in store.event_rewards(personalizer_db, event_id)] == [1.0]


def test_a_wrong_key_is_a_friendly_message(
    fake_slack: FakeSlack, personalizer: RunningApp, response_url: Any, tmp_path: Path
) -> None:
    bot = _bot(fake_slack, tmp_path, personalizer.base_url, "wrong-key")
    try:
        name, url = response_url
        bot.command("sweet evening", url)
        assert "isn't answering" in fake_slack.wait_for_responses(name, timeout=3)[0]["text"]
        assert "wrong-key" not in bot.log()
    finally:
        bot.stop()

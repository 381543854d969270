"""End-to-end fixtures: the fake Slack and `python app.py` serving HTTP on loopback, started once."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from itertools import count
from typing import Any

import pytest
from slack_fakes import FakeSlack, RunningApp, app_environment, start_app
from sqlalchemy import Engine

from bot.db import create_database_engine

_names = count()


@pytest.fixture(scope="session")
def fake_slack(
    validate_blocks: Callable[..., None], validate_view: Callable[..., None]
) -> Iterator[FakeSlack]:
    """The fake Slack Web API and response_url sink, shared by the e2e tests.

    At the end, every message and view the app sent during the session is validated as Slack would.
    """
    with FakeSlack() as fake:
        yield fake
    for call in fake.calls:
        if call.kind == "respond" and "blocks" in call.body:
            validate_blocks(call.body["blocks"])
        elif call.name == "views.publish":
            view = call.body["view"]
            validate_view(json.loads(view) if isinstance(view, str) else view)


@pytest.fixture(scope="session")
def slack_app(fake_slack: FakeSlack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    """The real app (`python app.py`, HTTP mode, local learner) on a free loopback port."""
    workdir = tmp_path_factory.mktemp("slack_app")
    # DEBUG so that test_slack_security can check that not even debug logging shows a secret.
    app = start_app(app_environment(fake_slack, workdir, LOG_LEVEL="DEBUG"), workdir)
    yield app
    app.stop()


@pytest.fixture(scope="session")
def learner_db(slack_app: RunningApp) -> Iterator[Engine]:
    """The app's database, to read what the learner logged (events, rewards)."""
    engine = create_database_engine(slack_app.database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def response_url(fake_slack: FakeSlack) -> Any:
    """A fresh response_url name and URL on the fake, per test."""
    name = f"r{next(_names)}"
    return name, fake_slack.response_url(name)

"""The ranker is down (azure backend, nothing listening): friendly answers well within 3 s, no crash."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from slack_fakes import FakeSlack, RunningApp, app_environment, block_action, free_port, start_app

from blocks import ids

FRIENDLY = "the recommender isn't answering"


@pytest.fixture(scope="module")
def app_without_ranker(
    fake_slack: FakeSlack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningApp]:
    """The app with PERSONALIZER_BACKEND=azure pointed at a closed loopback port."""
    workdir = tmp_path_factory.mktemp("ranker_down")
    env = app_environment(
        fake_slack,
        workdir,
        PERSONALIZER_BACKEND="azure",
        PERSONALIZER_ENDPOINT=f"http://127.0.0.1:{free_port()}",
        PERSONALIZER_KEY="secret-key-that-must-not-be-logged",
    )
    app = start_app(env, workdir)
    yield app
    app.stop()


def test_suggest_with_the_ranker_down_apologises_within_3_seconds(
    app_without_ranker: RunningApp, fake_slack: FakeSlack, response_url: Any
) -> None:
    name, url = response_url
    started = time.monotonic()
    message_ts = "1700000002.000001"
    click = block_action(ids.SUGGEST, url, value="salty|night", message_ts=message_ts)
    assert app_without_ranker.action(click).status_code == 200
    answer = fake_slack.wait_for_responses(name, timeout=3)[0]
    assert time.monotonic() - started < 3
    assert FRIENDLY in answer["text"]
    assert answer["replace_original"] is False  # the menus stay, so the user can click again
    assert app_without_ranker.healthy()
    # And clicking Suggest again on the same menus is not mistaken for a double click.
    app_without_ranker.action(block_action(ids.SUGGEST, url, value="salty|night", message_ts=message_ts))
    assert FRIENDLY in fake_slack.wait_for_responses(name, 2, timeout=3)[1]["text"]


def test_text_shortcut_with_the_ranker_down_apologises(
    app_without_ranker: RunningApp, fake_slack: FakeSlack, response_url: Any
) -> None:
    name, url = response_url
    started = time.monotonic()
    assert app_without_ranker.command("sweet morning", url).status_code == 200
    assert FRIENDLY in fake_slack.wait_for_responses(name, timeout=3)[0]["text"]
    assert time.monotonic() - started < 3


def test_the_failure_is_logged_without_the_key(app_without_ranker: RunningApp) -> None:
    log = app_without_ranker.log()
    assert "rank failed" in log
    assert "secret-key-that-must-not-be-logged" not in log

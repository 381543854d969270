"""Requests Slack did not sign, or payloads that make no sense: refused or ignored, never a crash."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_fakes import BOT_TOKEN, SIGNING_SECRET, FakeSlack, RunningApp, block_action, command_body, sign

from blocks import ids
from bot.personalizer.local import store


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(lambda body: sign(body, secret="not-" + SIGNING_SECRET), id="forged"),
        pytest.param(lambda body: sign(body, timestamp=int(time.time()) - 6 * 60), id="stale"),
        pytest.param(lambda body: sign(body, timestamp=int(time.time()) + 6 * 60), id="future"),
        pytest.param(lambda body: {"Content-Type": "application/x-www-form-urlencoded"}, id="unsigned"),
        pytest.param(
            lambda body: {**sign(body), "X-Slack-Signature": "v0=" + "0" * 64},
            id="wrong-signature",
        ),
    ],
)
def test_unsigned_or_badly_signed_requests_are_401_and_nothing_is_ranked(
    slack_app: RunningApp, fake_slack: FakeSlack, response_url: Any, learner_db: Any, headers: Any
) -> None:
    name, url = response_url
    before = store.count_events(learner_db)
    bodies = [
        command_body("sweet evening", url),
        urlencode({"payload": json.dumps(block_action(ids.SUGGEST, url, value="sweet|evening"))}),
    ]
    for body in bodies:
        response = slack_app.post(body, headers(body))
        assert response.status_code == 401
    assert store.count_events(learner_db) == before
    assert fake_slack.responses(name) == []


def test_a_body_altered_after_signing_is_refused(slack_app: RunningApp, response_url: Any) -> None:
    _, url = response_url
    body = command_body("sweet evening", url)
    assert slack_app.post(body + "&x=1", sign(body)).status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("", id="empty"),
        pytest.param("payload=not-json", id="payload-not-json"),
        pytest.param("payload=%5B1%2C2%5D", id="payload-a-list"),
        pytest.param(urlencode({"payload": json.dumps({"type": "block_actions"})}), id="no-actions"),
        pytest.param(urlencode({"payload": json.dumps({"type": "mystery"})}), id="unknown-type"),
        pytest.param("\x00\x01garbage=%%%", id="garbage"),
        pytest.param('{"type": "event_callback"}', id="json-without-event"),
    ],
)
def test_malformed_payloads_get_an_answer_and_the_app_stays_up(slack_app: RunningApp, body: str) -> None:
    response = slack_app.post(body)
    assert response.status_code < 500, (response.status_code, response.text)
    assert slack_app.healthy()


def test_a_click_without_a_user_is_refused_and_one_without_a_value_gets_an_apology(
    slack_app: RunningApp, fake_slack: FakeSlack, response_url: Any, learner_db: Any
) -> None:
    """Slack names who clicked in every click: one that does not is no Slack request (400, no listener)."""
    name, url = response_url
    before = store.count_events(learner_db)
    payload = block_action(ids.SUGGEST, url, value="sweet|night")
    del payload["user"]
    assert slack_app.action(payload).status_code == 400
    assert slack_app.action(block_action(ids.TRY_ANOTHER, url)).status_code == 200
    assert "can't find that suggestion" in fake_slack.wait_for_responses(name)[0]["text"]
    assert store.count_events(learner_db) == before
    assert slack_app.healthy()


def test_unknown_action_is_a_4xx(slack_app: RunningApp, response_url: Any) -> None:
    _, url = response_url
    assert 400 <= slack_app.action(block_action("not_ours", url)).status_code < 500


def test_oversized_body_is_refused(slack_app: RunningApp) -> None:
    body = "text=" + "x" * 2_000_000
    assert slack_app.post(body).status_code == 413
    assert slack_app.healthy()


def test_get_on_events_is_not_allowed(slack_app: RunningApp) -> None:
    assert slack_app.session.get(f"{slack_app.base_url}/slack/events").status_code == 405


def test_no_secret_reaches_the_log_even_at_debug(
    slack_app: RunningApp, fake_slack: FakeSlack, response_url: Any
) -> None:
    name, url = response_url
    slack_app.command("", url)  # users.info and a response_url post, with the token in their headers
    slack_app.command("salty night", url)
    fake_slack.wait_for_responses(name, 2)
    log = slack_app.log()
    assert "DEBUG" in log
    assert BOT_TOKEN not in log and SIGNING_SECRET not in log

"""Requests Slack never sent: refused for the cost of a signature check, logged by no byte, never a 500."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_fakes import SIGNING_SECRET, FakeSlack, RunningApp, block_action, command_body, sign
from slack_hostile import FORM, bystander_seconds, hold_bodies, rss_mb, send_chunked, unsigned

from blocks import ids

FORGED = "2026-01-01 00:00:00,000 ERROR bot.forged: FORGED-LOG-LINE"


def nested(depth: int) -> str:
    """A JSON value `depth` arrays deep."""
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(lambda body: unsigned(str(int(time.time()))), id="bad-signature"),
        pytest.param(lambda body: {"Content-Type": FORM}, id="no-signature"),
        pytest.param(lambda body: sign(body, secret="not-" + SIGNING_SECRET), id="other-secret"),
        pytest.param(lambda body: sign(body, timestamp=int(time.time()) - 3600), id="stale"),
    ],
)
def test_a_refused_body_reaches_the_log_by_no_byte(
    slack_app: RunningApp, fake_slack: FakeSlack, headers: Any
) -> None:
    before = len(slack_app.log())
    body = "text=hi\n" + FORGED + "\n&" + "x" * 900_000
    for _ in range(20):
        assert slack_app.post(body, headers(body)).status_code == 401
    log = slack_app.log()
    assert "FORGED-LOG-LINE" not in log
    assert len(log) - before < 10_000  # a few summary lines at most, never 20 bodies of 900 kB
    assert bystander_seconds(slack_app, fake_slack, f"log-{id(headers)}") < 3


@pytest.mark.parametrize("timestamp", ["abc", "", "1.5", "1e9", "0x10", "-5", "9" * 400])
def test_a_timestamp_that_is_no_integer_is_a_401(slack_app: RunningApp, timestamp: str) -> None:
    body = command_body("sweet evening", "http://127.0.0.1:9/nowhere")
    assert slack_app.post(body, unsigned(timestamp)).status_code == 401
    signed = {**sign(body), "X-Slack-Request-Timestamp": timestamp}
    signed["X-Slack-Signature"] = sign(body, timestamp=0)["X-Slack-Signature"]
    assert slack_app.post(body, signed).status_code == 401
    assert slack_app.healthy()


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(urlencode({"payload": nested(3000)}), id="payload-3000-deep"),
        pytest.param(
            urlencode({"payload": '{"type":"block_actions","a":' + nested(3000) + "}"}), id="deep-in-object"
        ),
        pytest.param(urlencode({"payload": "{" * 3000}), id="payload-3000-open-braces"),
        pytest.param(urlencode({"payload": '{"type":"block_actions"'}), id="payload-truncated"),
        pytest.param(urlencode({"payload": '"just a string"'}), id="payload-a-string"),
        pytest.param(urlencode({"payload": "NaN"}), id="payload-nan"),
        pytest.param("payload=%FF%FE", id="payload-not-utf8"),
    ],
)
def test_a_signed_payload_that_is_no_slack_payload_is_a_400(
    slack_app: RunningApp, fake_slack: FakeSlack, body: str
) -> None:
    response = slack_app.post(body)
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:200])
    assert slack_app.healthy()


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param(nested(3000), "application/json", id="json-3000-deep"),
        pytest.param(
            '{"type": "event_callback", "event": ' + nested(3000) + "}", "application/json", id="event-deep"
        ),
        pytest.param("{", "application/json", id="json-truncated"),
        pytest.param("[1, 2]", "application/json", id="json-a-list"),
        pytest.param('{"type": "event_callback", "event": "x"}', "application/json", id="event-a-string"),
        pytest.param(
            '{"type": "event_callback", "event": {"type": 5}}', "application/json", id="event-type-a-number"
        ),
        pytest.param("\udcff", FORM, id="lone-surrogate"),
    ],
)
def test_a_signed_json_body_that_is_no_slack_event_is_a_4xx(
    slack_app: RunningApp, body: str, content_type: str
) -> None:
    raw = body.encode("utf-8", "surrogateescape")
    headers = {**sign(raw.decode("utf-8", "replace")), "Content-Type": content_type}
    headers["X-Slack-Signature"] = _signature(raw, headers["X-Slack-Request-Timestamp"])
    response = slack_app.session.post(
        f"{slack_app.base_url}/slack/events", data=raw, headers=headers, timeout=10
    )
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:200])
    assert slack_app.healthy()


def test_a_chunked_body_is_refused_at_1_mb_while_it_streams(
    slack_app: RunningApp, fake_slack: FakeSlack
) -> None:
    rss_before = rss_mb(slack_app.process.pid)
    for _ in range(6):
        status, sent = send_chunked(slack_app, 40_000_000, unsigned(str(int(time.time()))))
        assert status == 413
        assert sent < 8_000_000  # 1 MB read, plus what the socket buffers held: never the whole 40 MB
    assert rss_mb(slack_app.process.pid) - rss_before < 100
    assert bystander_seconds(slack_app, fake_slack, "after-chunked") < 3


def test_a_signed_click_still_works_after_the_refusals(
    slack_app: RunningApp, fake_slack: FakeSlack, response_url: Any
) -> None:
    name, url = response_url
    payload = block_action(ids.SUGGEST, url, value="sweet|evening")
    assert slack_app.action(payload).status_code == 200
    assert "blocks" in fake_slack.wait_for_responses(name)[0]


def _signature(raw: bytes, timestamp: str) -> str:
    """Slack's v0 signature over raw bytes (slack_sdk signs text only, and these bytes are no UTF-8)."""
    base = f"v0:{timestamp}:".encode() + raw
    return "v0=" + hmac.new(SIGNING_SECRET.encode(), base, hashlib.sha256).hexdigest()


def test_bodies_held_open_by_many_clients_cost_a_bounded_amount_of_memory(
    slack_app: RunningApp, fake_slack: FakeSlack
) -> None:
    rss_before = rss_mb(slack_app.process.pid)
    held, statuses = hold_bodies(slack_app, 200, 900_000)  # 180 MB, were every body kept
    try:
        assert rss_mb(slack_app.process.pid) - rss_before < 100
        assert statuses and set(statuses) == {429}  # refused beyond the budget, not a 5xx
        assert bystander_seconds(slack_app, fake_slack, "during-held-bodies") < 3
    finally:
        for sock in held:
            sock.close()
    assert slack_app.healthy()

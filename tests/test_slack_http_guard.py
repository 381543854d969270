"""The checks before Bolt: Slack's signature, the shape of a Slack request, and what a refusal logs."""

from __future__ import annotations

import json
import logging
import time

import pytest
from slack_sdk.signature import SignatureVerifier

from bot.slack_http_guard import RefusalLog, envelope_problem, signed_by_slack

SECRET = "secret"
VERIFIER = SignatureVerifier(SECRET)


def headers(body: bytes, timestamp: str | None = None) -> dict[str, str]:
    ts = timestamp or str(int(time.time()))
    return {
        "x-slack-request-timestamp": ts,
        "x-slack-signature": VERIFIER.generate_signature(timestamp=ts, body=body),
    }


def test_a_body_signed_with_the_secret_passes() -> None:
    body = b"text=sweet+evening"
    assert signed_by_slack(VERIFIER, headers(body), body)


@pytest.mark.parametrize("timestamp", ["abc", "", "1.5", "1e9", "0x10", "+1", " 1", "١٢٣", "9" * 400])
def test_a_timestamp_of_anything_but_ascii_digits_is_refused_without_an_error(timestamp: str) -> None:
    body = b"text=x"
    signed = {"x-slack-request-timestamp": timestamp, "x-slack-signature": headers(body)["x-slack-signature"]}
    assert not signed_by_slack(VERIFIER, signed, body)


def test_missing_headers_stale_timestamps_and_bytes_that_are_not_utf8_are_refused() -> None:
    assert not signed_by_slack(VERIFIER, {}, b"x")
    assert not signed_by_slack(VERIFIER, headers(b"x", str(int(time.time()) - 400)), b"x")
    assert not signed_by_slack(VERIFIER, headers(b"x"), b"\xff")


def test_slacks_own_payloads_have_no_problem() -> None:
    block_actions = {
        "type": "block_actions",
        "user": {"id": "U1", "team_id": "T1"},
        "team": {"id": "T1"},
        "enterprise": None,
        "channel": {"id": "C1"},
        "container": {"type": "message", "message_ts": "1.2"},
        "actions": [{"action_id": "suggest", "value": "x"}],
        "response_url": "https://hooks.slack.com/actions/x",
        "state": {"values": {}},
    }
    event = {"type": "event_callback", "team_id": "T1", "event": {"type": "app_home_opened", "user": "U1"}}
    command = {"command": "/whatsfordinner", "text": "", "user_id": "U1", "response_url": "https://x"}
    for body in (block_actions, event, command):
        assert envelope_problem(json.loads(json.dumps(body))) is None


@pytest.mark.parametrize(
    "body",
    [
        [1, 2],
        "text",
        {"event": None},
        {"event": "x"},
        {"event": {"type": 5}},
        {"event": {"user": ["U1"]}},
        {"view": None},
        {"actions": "x"},
        {"actions": [1]},
        {"response_urls": "x"},
        {"authorizations": [{"team_id": 5}]},
        {"user": 5},
        {"type": {"a": 1}},
        {"type": "block_actions", "actions": []},
        {"type": "block_actions", "actions": [{}]},
        {"type": "block_actions", "actions": [{"action_id": "suggest"}, {"action_id": 5}]},
        {"command": "/whatsfordinner", "text": "", "user_id": "U1"},
        {"command": "/whatsfordinner", "response_url": ""},
        {"command": "/whatsfordinner", "response_url": "https://x"},
        {"type": "block_actions", "actions": [{"action_id": "suggest"}]},
        {"type": "block_actions", "actions": [{"action_id": "suggest"}], "user": "U1"},
    ],
)
def test_a_field_bolt_reads_with_a_type_slack_never_sends_is_a_problem(body: object) -> None:
    assert envelope_problem(body) is not None


def test_refusals_are_logged_once_a_minute_as_counts_only(caplog: pytest.LogCaptureFixture) -> None:
    now = [1000.0]
    log = RefusalLog(clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="bot.slack_http_guard"):
        for _ in range(5):
            log.refused("not signed by Slack")
        now[0] += 61
        log.refused("too large")
    assert [r.getMessage() for r in caplog.records] == [
        "refused requests to /slack/events: not signed by Slack ×1",
        "refused requests to /slack/events: not signed by Slack ×4, too large ×1",
    ]

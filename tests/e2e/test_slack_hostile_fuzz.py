"""Property-based fuzzing of POST /slack/events, unsigned and signed: never a 5xx, and the bot stays up."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_fakes import FakeSlack, RunningApp, sign
from slack_hostile import bystander_seconds

from blocks import ids

HEADER_TEXT = st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=40)
CONTENT_TYPES = st.sampled_from(
    ["application/x-www-form-urlencoded", "application/json", "text/plain", "", "multipart/form-data"]
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
SLACK_KEYS = [
    "type", "event", "user", "user_id", "team", "team_id", "enterprise", "channel", "channel_id", "actions",
    "container", "state", "message", "view", "response_url", "response_urls", "command", "text", "trigger_id",
    "authorizations", "is_enterprise_install", "is_ext_shared_channel", "api_app_id", "token", "challenge",
]  # fmt: skip
SLACK_TYPES = [
    "block_actions",
    "event_callback",
    "view_submission",
    "shortcut",
    "url_verification",
    "app_rate_limited",
]
ACTION_IDS = [ids.SUGGEST, ids.VOTE_UP, ids.VOTE_DOWN, ids.TRY_ANOTHER, ids.TASTE_SELECT, "other"]


def slack_like(fake_url: str) -> st.SearchStrategy[dict[str, Any]]:
    """Dicts with Slack's keys and values of any type, often Slack's own types and IDs."""
    value = st.one_of(
        JSON_VALUES,
        st.sampled_from(SLACK_TYPES),
        st.just(fake_url),
        st.builds(
            lambda a: [{"action_id": a, "block_id": "b", "value": "sweet|evening"}],
            st.sampled_from(ACTION_IDS),
        ),
        st.builds(lambda u: {"id": u, "team_id": "T0FAKE"}, st.sampled_from(["U1FUZZ", "", "x" * 300])),
        st.builds(
            lambda t: {"type": t, "user": "U1FUZZ", "tab": "home"}, st.sampled_from(["app_home_opened", "x"])
        ),
    )
    return st.dictionaries(st.sampled_from(SLACK_KEYS), value, max_size=8)


def signed_bodies(fake_url: str) -> st.SearchStrategy[tuple[str, str]]:
    """(body, content type): interactions as payload=<json>, events as JSON, commands as form fields."""
    shaped = slack_like(fake_url)
    return st.one_of(
        st.builds(
            lambda d: (urlencode({"payload": json.dumps(d)}), "application/x-www-form-urlencoded"), shaped
        ),
        st.builds(
            lambda v: (urlencode({"payload": json.dumps(v)}), "application/x-www-form-urlencoded"),
            JSON_VALUES,
        ),
        st.builds(lambda d: (json.dumps(d), "application/json"), shaped),
        st.builds(lambda v: (json.dumps(v), "application/json"), JSON_VALUES),
        st.builds(
            lambda d: (urlencode({k: str(v) for k, v in d.items()}), "application/x-www-form-urlencoded"),
            shaped,
        ),
        st.tuples(st.text(max_size=200), CONTENT_TYPES),
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.binary(max_size=2000), timestamp=HEADER_TEXT, signature=HEADER_TEXT, content_type=CONTENT_TYPES
)
def test_unsigned_requests_are_never_a_5xx(
    slack_app: RunningApp, body: bytes, timestamp: str, signature: str, content_type: str
) -> None:
    headers = {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature,
        "Content-Type": content_type,
    }
    response = slack_app.session.post(
        f"{slack_app.base_url}/slack/events", data=body, headers=headers, timeout=10
    )
    assert response.status_code == 401, (response.status_code, response.text[:200])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_signed_requests_are_never_a_5xx(
    slack_app: RunningApp, fake_slack: FakeSlack, data: st.DataObject
) -> None:
    body, content_type = data.draw(signed_bodies(fake_slack.response_url("fuzz")))
    headers = {**sign(body, timestamp=int(time.time())), "Content-Type": content_type}
    response = slack_app.post(body, headers)
    assert response.status_code < 500, (response.status_code, response.text[:200], body[:300])


def test_the_bot_is_healthy_and_serves_others_after_the_fuzzing(
    slack_app: RunningApp, fake_slack: FakeSlack
) -> None:
    assert slack_app.healthy()
    assert bystander_seconds(slack_app, fake_slack, "after-fuzz") < 3

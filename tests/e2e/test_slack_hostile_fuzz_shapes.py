"""Property-based fuzzing of POST /slack/events in Slack's three shapes, signed and not, with odd headers.

Slash commands (form fields), interactivity (`payload=<JSON>` form field, block_actions) and the Events API
(a JSON body), each mutated from what Slack really sends; timestamps, content types and Content-Length
headers that lie. Whatever comes: never a 5xx, and after each batch the bot is healthy and answers a
normal slash command from someone else.
"""

from __future__ import annotations

import json
import re
import socket
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_fakes import SIGNING_SECRET, FakeSlack, RunningApp, block_action, command_body, sign
from slack_hostile import address, bystander_seconds
from slack_sdk.signature import SignatureVerifier

from blocks import ids

EXAMPLES = 150  # per test: this module takes about 15 s
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
TEXT = st.text(st.characters(blacklist_categories=["Cs"]), max_size=60)  # any text urlencode can carry
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT
ANY_JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)
CONTENT_TYPES = st.sampled_from(
    [
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=utf-8",
        "APPLICATION/X-WWW-FORM-URLENCODED",
        "application/json",
        "application/json; charset=latin-1",
        "text/plain",
        "multipart/form-data; boundary=x",
        "",
    ]
)
NOW = int(time.time())
TIMESTAMPS = st.one_of(
    st.sampled_from(["", "abc", "1.5", "-1", "0", " 1 ", "１２３", "1e9", "9" * 40, "0x10", str(NOW) + "\t"]),
    st.integers(-(10**12), 10**12).map(str),
    st.integers(-400, 400).map(lambda skew: str(NOW + skew)),  # around the 5-minute window's edges
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=20),
)


def mutated(base: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """`base` with some keys dropped and others replaced by any JSON value or odd text."""
    keys = sorted(base)
    return st.builds(
        lambda dropped, replaced: {
            **{k: v for k, v in base.items() if k not in dropped},
            **replaced,
        },
        st.sets(st.sampled_from(keys), max_size=3),
        st.dictionaries(st.sampled_from([*keys, "extra"]), ANY_JSON | TEXT, max_size=3),
    )


def commands(response_url: str) -> st.SearchStrategy[str]:
    """/whatsfordinner form bodies: real fields mutated, odd text, and raw percent-escapes."""
    base = dict(parse_qsl(command_body("sweet evening", response_url)))
    form = mutated(base).map(
        lambda d: urlencode({k: v if isinstance(v, str) else json.dumps(v) for k, v in d.items()})
    )
    raw = st.lists(
        st.sampled_from(["%FF", "%00", "%", "&", "=", "+", "%E2%82", "command=", "text="]), max_size=6
    )
    return form | st.builds(lambda f, r: f + "&" + "".join(r), form, raw)


def interactions(response_url: str) -> st.SearchStrategy[str]:
    """block_actions payloads: Slack's own for each of the bot's buttons and menus, mutated, as `payload=`."""
    actions = st.sampled_from(
        [ids.SUGGEST, ids.VOTE_UP, ids.VOTE_DOWN, ids.TRY_ANOTHER, ids.TASTE_SELECT, "x"]
    )
    real = st.builds(
        lambda a, v: block_action(a, response_url, value=v, user="U3FUZZ"), actions, st.none() | TEXT
    )
    payloads = real.flatmap(mutated) | st.builds(
        lambda p, action: {**p, "actions": [action]}, real, st.dictionaries(TEXT, ANY_JSON, max_size=4)
    )
    as_json = payloads.map(json.dumps) | ANY_JSON.map(json.dumps) | TEXT
    return as_json.map(lambda text: urlencode({"payload": text}))


def events() -> st.SearchStrategy[str]:
    """Events API bodies: event_callback envelopes of app_home_opened and others, mutated, as JSON."""
    inner = st.builds(
        lambda t, tab: {"type": t, "user": "U3FUZZ", "tab": tab, "channel": "D0FUZZ", "event_ts": "1.2"},
        st.sampled_from(["app_home_opened", "message", "app_mention", "x"]),
        st.sampled_from(["home", "messages", ""]),
    )
    envelope = st.builds(
        lambda e: {
            "type": "event_callback",
            "team_id": "T0FAKE",
            "api_app_id": "A0FAKE",
            "event": e,
            "event_id": "Ev0FUZZ",
            "event_time": NOW,
            "authorizations": [{"team_id": "T0FAKE", "user_id": "U0BOT", "is_bot": True}],
        },
        inner.flatmap(mutated),
    )
    challenge = st.builds(lambda c: {"type": "url_verification", "challenge": c}, ANY_JSON)
    return (envelope.flatmap(mutated) | challenge).map(json.dumps)


def bodies(response_url: str) -> st.SearchStrategy[tuple[str, str]]:
    """(body, the content type Slack would send it with)."""
    form = "application/x-www-form-urlencoded"
    return st.one_of(
        commands(response_url).map(lambda b: (b, form)),
        interactions(response_url).map(lambda b: (b, form)),
        events().map(lambda b: (b, "application/json")),
    )


def raw_post(app: RunningApp, headers: dict[str, str], body: bytes, length: int | None = None) -> int:
    """POST with any header bytes and a Content-Length of `length` (the body's own by default).

    A body shorter than announced ends with our side of the connection closed, not at the bot's deadline.
    The status the bot answered, or 0 when it closed the connection without an answer.
    """
    length = len(body) if length is None else length
    lines = [
        "POST /slack/events HTTP/1.1",
        "Host: 127.0.0.1",
        f"Content-Length: {length}",
        "Connection: close",
    ]
    lines += [f"{k}: {v}" for k, v in headers.items() if k.lower() != "content-length"]
    with socket.create_connection(address(app), timeout=15) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        if length > len(body):
            sock.shutdown(socket.SHUT_WR)
        answer = b""
        try:
            while chunk := sock.recv(4096):
                answer += chunk
        except ConnectionResetError:
            pass
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


@pytest.fixture(scope="module")
def log_before(slack_app: RunningApp) -> int:
    """How much the bot had logged before this module's requests."""
    return len(slack_app.log())


@FUZZ
@given(data=st.data())
def test_signed_slack_shaped_requests_are_never_a_5xx(
    log_before: int, slack_app: RunningApp, fake_slack: FakeSlack, data: st.DataObject
) -> None:
    body, content_type = data.draw(bodies(fake_slack.response_url("fuzz-shapes")))
    content_type = data.draw(st.just(content_type) | CONTENT_TYPES)
    response = slack_app.post(body, {**sign(body), "Content-Type": content_type})
    assert response.status_code < 500, (response.status_code, response.text[:200], body[:300])


@FUZZ
@given(data=st.data())
def test_slack_shaped_requests_with_odd_timestamps_or_forged_signatures_are_refused(
    slack_app: RunningApp, fake_slack: FakeSlack, data: st.DataObject
) -> None:
    body, content_type = data.draw(bodies(fake_slack.response_url("fuzz-unsigned")))
    timestamp = data.draw(TIMESTAMPS)
    fresh = re.fullmatch("[0-9]{1,12}", timestamp) and abs(int(timestamp) - time.time()) < 310
    forged = ["v0=" + "0" * 64, "", "v1=abc", sign(body + "x")["X-Slack-Signature"]]
    # The genuine HMAC of this body and timestamp, when the timestamp is outside Slack's 5-minute window.
    genuine = (
        []
        if fresh
        else [SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=timestamp, body=body)]
    )
    signature = data.draw(st.sampled_from(forged + genuine))
    headers = {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature,
        "Content-Type": content_type,
    }
    status = raw_post(slack_app, headers, body.encode())
    assert status == 401, (status, timestamp, signature, body[:300])


@FUZZ
@given(data=st.data())
def test_content_lengths_that_lie_are_never_a_5xx(
    slack_app: RunningApp, fake_slack: FakeSlack, data: st.DataObject
) -> None:
    """Fewer bytes than announced (then the client's end of the stream), or more (a second request)."""
    body, content_type = data.draw(bodies(fake_slack.response_url("fuzz-length")))
    raw = body.encode()
    length = data.draw(st.integers(0, len(raw) * 2 + 2) | st.sampled_from([len(raw) - 1, len(raw) + 1]))
    signed = data.draw(st.booleans())
    # Signed over what the bot will read as the body, so a lie can reach the listeners, not only the HMAC.
    headers = {
        **(sign(raw[:length].decode(errors="replace")) if signed else {}),
        "Content-Type": content_type,
    }
    status = raw_post(slack_app, headers, raw, max(0, length))
    assert status < 500, (status, length, len(raw), body[:300])
    if length > len(raw):  # the bot saw the client go before the body's end: it must still be serving
        assert slack_app.healthy()


def test_the_bot_still_answers_commands_after_the_fuzzing(
    slack_app: RunningApp, fake_slack: FakeSlack, log_before: int
) -> None:
    """Healthy, answering others, and nothing failed on any of it: no listener, no middleware (no traceback)."""
    assert slack_app.healthy()
    for n in range(3):
        assert bystander_seconds(slack_app, fake_slack, f"after-shapes-{n}", user=f"U9AFTER{n}") < 3
    assert "Traceback" not in slack_app.log()[log_before:], slack_app.log()[log_before:][-3000:]

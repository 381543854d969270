"""Slack's requests as raw ASGI calls, signed like Slack's: what slack_instructions_driver.py sends an app."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

SECRET = "test-signing-secret"
Request = tuple[bytes, list[tuple[bytes, bytes]]]


def signed(body: str, content_type: str) -> Request:
    """The raw body and the headers Slack would send with it."""
    ts = str(int(time.time()))
    signature = SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body)
    raw = body.encode()
    headers = [
        (b"host", b"127.0.0.1"),
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(raw)).encode()),
        (b"x-slack-request-timestamp", ts.encode()),
        (b"x-slack-signature", signature.encode()),
    ]
    return raw, headers


def command(text: str, user: str, response_url: str) -> Request:
    """A /whatsfordinner slash command."""
    body = urlencode(
        {
            "token": "legacy",
            "team_id": "T0FAKE",
            "team_domain": "fake",
            "channel_id": "C0DINNER",
            "channel_name": "dinner",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/whatsfordinner",
            "text": text,
            "api_app_id": "A0FAKE",
            "response_url": response_url,
            "trigger_id": "1.2.3",
        }
    )
    return signed(body, "application/x-www-form-urlencoded")


def click(action_id: str, user: str, response_url: str, value: str, state: dict[str, Any], ts: str) -> Any:
    """A block_actions payload from an ephemeral message."""
    payload = {
        "type": "block_actions",
        "team": {"id": "T0FAKE", "domain": "fake"},
        "user": {"id": user, "username": user.lower(), "team_id": "T0FAKE"},
        "api_app_id": "A0FAKE",
        "token": "legacy",
        "container": {"type": "message", "message_ts": ts, "channel_id": "C0DINNER", "is_ephemeral": True},
        "trigger_id": "1.2.3",
        "channel": {"id": "C0DINNER", "name": "dinner"},
        "state": {"values": state},
        "response_url": response_url,
        "actions": [
            {"action_id": action_id, "block_id": "b", "type": "button", "action_ts": "1.1", "value": value}
        ],
    }
    return signed(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")


def home_opened(user: str, number: int) -> Any:
    """An app_home_opened event."""
    body = json.dumps(
        {
            "token": "legacy",
            "team_id": "T0FAKE",
            "api_app_id": "A0FAKE",
            "type": "event_callback",
            "event_id": f"Ev{number}",
            "event_time": int(time.time()),
            "event": {"type": "app_home_opened", "user": user, "channel": "D0", "tab": "home"},
        }
    )
    return signed(body, "application/json")


async def post(app: Any, request: Request) -> int:
    """POST /slack/events through the ASGI app; its status."""
    raw, headers = request
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/slack/events",
        "raw_path": b"/slack/events",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 3000),
    }
    done = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal done
        if done:
            await asyncio.sleep(3600)
        done = True
        return {"type": "http.request", "body": raw, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status

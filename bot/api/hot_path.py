"""Rank, reward and activate, the service's traffic, as plain ASGI in front of Starlette.

At thousands of requests per second Starlette's per-request machinery (Request/Response objects,
middleware) costs as much as the ranking itself, so these three operations bypass it and await the loop's
*_async methods: concurrent requests share one group commit.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.api import wire
from bot.api.errors import UNAUTHORIZED, error_payload
from bot.api.inbound import PREFIX, authorized, read_body

_ENCODER = json.JSONEncoder(separators=(",", ":"))  # one encoder: json.dumps with options builds one per call


class EventRoutes:
    """The three event operations of /personalizer/v1.0, each answered without Starlette."""

    RANK = f"{PREFIX}/rank"
    EVENTS = f"{PREFIX}/events/"

    def __init__(self, loop: Any, key: str, max_json_bytes: int) -> None:
        self.loop = loop
        self.key = key.encode()
        self.max_json_bytes = max_json_bytes

    def in_front_of(self, app: ASGIApp) -> ASGIApp:
        """An ASGI app that serves the event operations here and passes everything else to `app`."""

        async def front(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and scope["method"] == "POST" and scope["path"].startswith(PREFIX):
                path = scope["path"]
                if path == self.RANK or (
                    path.startswith(self.EVENTS) and path.endswith(("/reward", "/activate"))
                ):
                    await self(scope, receive, send)
                    return
            await app(scope, receive, send)

        return front

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        payload: dict[str, Any] | None
        if not authorized(scope, self.key):
            status, payload = 401, UNAUTHORIZED
        else:
            try:
                status, payload = await self._dispatch(scope, receive)
            except ClientDisconnect:
                return
            except Exception as exc:  # noqa: BLE001 - the HTTP boundary: every failure gets an answer
                status, payload = error_payload(exc)
        body = b"" if payload is None else _ENCODER.encode(payload).encode()
        headers = [(b"content-length", str(len(body)).encode())]
        if payload is not None:
            headers.append((b"content-type", b"application/json"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _dispatch(self, scope: Scope, receive: Receive) -> tuple[int, dict[str, Any] | None]:
        path = scope["path"]
        body = await read_body(scope, receive, self.max_json_bytes)
        if path == self.RANK:
            request = wire.rank_request_from_json(wire.parse_json(body))
            return 201, wire.rank_result_to_json(await self.loop.rank_async(request))
        if path.endswith("/reward"):
            event_id = wire.event_id_from_path(path[len(self.EVENTS) : -len("/reward")])
            await self.loop.reward_async(event_id, wire.reward_value_from_json(wire.parse_json(body)))
            return 204, None
        event_id = wire.event_id_from_path(path[len(self.EVENTS) : -len("/activate")])
        await self.loop.activate_async(event_id)
        return 204, None

"""What every request goes through: the key check and the body reader, shared by the hot path and the routes."""

from __future__ import annotations

import asyncio
import hmac

from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.api.errors import UNAUTHORIZED, SlowBody, TooLarge
from bot.personalizer.base import InvalidRequest

PREFIX = "/personalizer/v1.0"
MAX_JSON_BYTES = 1024 * 1024
MAX_MODEL_BYTES = 64 * 1024 * 1024
BODY_TIMEOUT = 10.0  # seconds for the rest of a body once its first part came: a slow sender holds a slot
OPEN_PATHS = frozenset({"/healthz", "/openapi.json", f"{PREFIX}/openapi.json", f"{PREFIX}/openapi.yaml"})


def authorized(scope: Scope, key: bytes) -> bool:
    """Ocp-Apim-Subscription-Key equals the key (compared in constant time)."""
    given = b""
    for name, value in scope["headers"]:
        if name == b"ocp-apim-subscription-key":
            given = value
            break
    return hmac.compare_digest(given, key)


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The whole body; TooLarge past `limit` (before reading, when the length is declared, and while it
    streams otherwise), SlowBody unless the rest arrives within BODY_TIMEOUT of its first part.
    ClientDisconnect when the client goes away first.
    """
    for name, value in scope["headers"]:
        if name == b"content-length":
            if not value.isdigit():
                raise InvalidRequest("Content-Length must be a number of bytes.")
            if int(value) > limit:
                raise TooLarge(f"The request body is larger than the {limit} bytes allowed.")
            break
    message = await receive()
    first = _chunk(message, 0, limit)
    if not message.get("more_body", False):
        return first  # the common case: the whole body came at once, and no timer is armed
    chunks = [first]
    size = len(first)
    try:
        async with asyncio.timeout(BODY_TIMEOUT):
            while True:
                message = await receive()
                chunk = _chunk(message, size, limit)
                size += len(chunk)
                chunks.append(chunk)
                if not message.get("more_body", False):
                    return b"".join(chunks)
    except TimeoutError:
        raise SlowBody(f"The request body did not arrive within {BODY_TIMEOUT:g} s.") from None


def _chunk(message: Message, size: int, limit: int) -> bytes:
    if message["type"] == "http.disconnect":
        raise ClientDisconnect()
    chunk: bytes = message.get("body", b"")
    if size + len(chunk) > limit:
        raise TooLarge(f"The request body is larger than the {limit} bytes allowed.")
    return chunk


DASHBOARD = "/dashboard"  # signs in with the same key, once, through its own form and cookie


class KeyMiddleware:
    """401 unless Ocp-Apim-Subscription-Key matches; only /healthz and the spec are open."""

    def __init__(self, app: ASGIApp, key: str) -> None:
        self.app = app
        self.key = key.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        open_path = path in OPEN_PATHS or path == DASHBOARD or path.startswith(DASHBOARD + "/")
        if scope["type"] == "http" and not open_path and not authorized(scope, self.key):
            await JSONResponse(UNAUTHORIZED, status_code=401)(scope, receive, send)
            return
        await self.app(scope, receive, send)

"""Everything under /personalizer: find the API version and the operation, check the key, call the handler.

Built from versions.py, so each version answers exactly its operations: an operation another version has
is 404 here, a known path with another method 405. The versions in the path (`/personalizer/v1.0/rank`) are
found by their path segment; 2022-09-01-preview is named in the query (`/personalizer/rank?api-version=...`),
and an unknown or missing api-version gets the error Azure's REST guidelines prescribe (400,
UnsupportedApiVersionValue / MissingApiVersionParameter). Rank, reward and activate, of every version, go
to the hot path's raw ASGI handler; the rest to Starlette-style handlers.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.api.errors import UNAUTHORIZED, error_body
from bot.api.inbound import authorized, send_json
from bot.api.versions import BY_NAME, PERSONALIZER, QUERY_VERSIONS, VERSIONS, Match, match, split_path_version

logger = logging.getLogger(__name__)
Handler = Callable[[Request, Match], Awaitable[Response]]
HotHandler = Callable[[Scope, Receive, Send, Match], Awaitable[None]]
ErrorMapper = Callable[[Exception, Match | None], tuple[int, dict[str, Any]]]
HOT = frozenset({"rank", "reward", "activate", "multislot_rank", "multislot_reward", "multislot_activate"})
SUPPORTED = ", ".join(QUERY_VERSIONS)


class PersonalizerRouter:
    """The ASGI app in front: /personalizer/... here, everything else (healthz, lifespan) to `fallback`."""

    def __init__(
        self,
        fallback: ASGIApp,
        key: str,
        handlers: Mapping[str, Handler],
        hot: HotHandler,
        errors: ErrorMapper,
        open_paths: Callable[[str], bool],
    ) -> None:
        self.fallback = fallback
        self.key = key.encode()
        self.handlers = handlers
        self.hot = hot
        self.errors = errors
        self.open_paths = open_paths
        v1 = VERSIONS["v1.0"]
        # v1.0's traffic skips the table's regular expressions: one string comparison per request.
        self._v1_rank = match(v1, "POST", "/rank")
        self._v1_rank_path = f"{v1.base}/rank"
        self._v1_events = f"{v1.base}/events/"
        self._v1, self._reward, self._activate = v1, BY_NAME["reward"], BY_NAME["activate"]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.fallback(scope, receive, send)
            return
        path: str = scope["path"]
        if scope["method"] == "POST":
            if path == self._v1_rank_path:
                await self._hot(scope, receive, send, self._v1_rank)
                return
            if path.startswith(self._v1_events):
                tail = path[len(self._v1_events) :]
                if tail.endswith("/reward") and len(tail) > 7:
                    await self._hot(scope, receive, send, Match(self._v1, self._reward, tail[:-7]))
                    return
                if tail.endswith("/activate") and len(tail) > 9:
                    await self._hot(scope, receive, send, Match(self._v1, self._activate, tail[:-9]))
                    return
        if not (path == PERSONALIZER or path.startswith(PERSONALIZER + "/")) or self.open_paths(path):
            await self.fallback(scope, receive, send)
            return
        if not self._authorized(scope):
            await send_json(send, 401, UNAUTHORIZED)
            return
        found_or_error = self._resolve(scope)
        if isinstance(found_or_error, tuple):
            await send_json(send, *found_or_error)
            return
        found = found_or_error
        assert found.operation is not None
        if found.operation.name in HOT:
            await self.hot(scope, receive, send, found)
            return
        await self._handle(scope, receive, send, found)

    async def _hot(self, scope: Scope, receive: Receive, send: Send, found: Match) -> None:
        if not self._authorized(scope):
            await send_json(send, 401, UNAUTHORIZED)
            return
        await self.hot(scope, receive, send, found)

    def _resolve(self, scope: Scope) -> Match | tuple[int, dict[str, Any]]:
        version, relative = split_path_version(scope["path"])
        if version is None:
            named = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("api-version")
            if not named:
                if not relative or relative == "/":
                    return 404, error_body("ResourceNotFound", "Name an API version.")
                return 400, error_body(
                    "MissingApiVersionParameter",
                    "The api-version query parameter (?api-version=) is required for all requests.",
                )
            version = QUERY_VERSIONS.get(named[0])
            if version is None:
                return 400, error_body(
                    "UnsupportedApiVersionValue",
                    f"Unsupported api-version '{named[0][:64]}'. The supported api-versions are '{SUPPORTED}'.",
                )
        found = match(version, scope["method"], relative)
        if found.operation is None:
            if found.allowed:
                return 405, error_body("MethodNotAllowed", f"{scope['method']} is not allowed here.")
            return 404, error_body("ResourceNotFound", f"No resource at {scope['path'][:300]}.")
        return found

    async def _handle(self, scope: Scope, receive: Receive, send: Send, found: Match) -> None:
        operation = found.operation
        assert operation is not None
        handler = self.handlers[operation.name]
        if found.parameter is not None:  # as Starlette's routes would give it: request.path_params
            name = operation.path.split("{", 1)[1].split("}", 1)[0]
            scope = {**scope, "path_params": {name: found.parameter}}
        try:
            response = await handler(Request(scope, receive), found)
        except ClientDisconnect:
            return
        except Exception as exc:  # noqa: BLE001 - the HTTP boundary: every failure gets an answer
            await send_json(send, *self.errors(exc, found))
            return
        await response(scope, receive, send)

    def _authorized(self, scope: Scope) -> bool:
        return authorized(scope, self.key)

"""HTTP mode: a Starlette app serving Slack's requests at POST /slack/events, and GET /healthz."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from slack_bolt import App
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

logger = logging.getLogger(__name__)
MAX_BODY_BYTES = 1_000_000  # Slack's payloads are a few kB; refuse anything absurd before reading it


def build_web_app(bolt_app: App, on_shutdown: Callable[[], None] | None = None) -> Starlette:
    """The ASGI app uvicorn serves; Bolt's dispatch runs in a worker thread so it never blocks the loop.

    `on_shutdown` runs (in a thread) when the server stops: uvicorn re-raises SIGTERM once it has shut
    down, so code after uvicorn.run() would never run on a normal stop.
    """

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        if on_shutdown is not None:
            await run_in_threadpool(on_shutdown)

    async def slack_events(request: Request) -> Response:
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            return PlainTextResponse("Payload too large", status_code=413)
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return PlainTextResponse("Payload too large", status_code=413)
        try:
            bolt_request = to_bolt_request(request, body)  # parses the body: payload=<json>, JSON or form
        except (UnicodeDecodeError, ValueError, TypeError, AttributeError):
            logger.warning("refused a malformed request to /slack/events")
            return PlainTextResponse("Malformed request", status_code=400)
        bolt_response = await run_in_threadpool(bolt_app.dispatch, bolt_request)
        return to_starlette_response(bolt_response)

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        lifespan=lifespan,
        routes=[
            Route("/slack/events", slack_events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
    )

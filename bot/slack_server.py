"""The Slack bot's server: the Bolt app, served over HTTP by uvicorn or over Socket Mode."""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor, ThreadPoolExecutor

from slack_bolt import App
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_bolt.error import BoltError
from slack_sdk import WebClient
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.config import Config
from bot.listeners import register_listeners
from bot.services import Services

logger = logging.getLogger(__name__)
MAX_BODY_BYTES = 1_000_000  # Slack's payloads are a few kB; refuse anything absurd before reading it
LISTENER_THREADS = 16  # listener work in flight; more only adds GIL contention on small hosts


def serve_slack(config: Config, services: Services) -> int:
    """Serve Slack until stopped: Socket Mode when SLACK_APP_TOKEN is set, otherwise HTTP with uvicorn.

    Returns the exit status; closes `services` on the way out.
    """
    executor = ThreadPoolExecutor(max_workers=LISTENER_THREADS, thread_name_prefix="listener")
    stopped = threading.Event()

    def shut_down() -> None:
        if not stopped.is_set():
            stopped.set()
            executor.shutdown(wait=True)  # suggestions and votes already acked finish first
            services.close()
            logger.info("stopped")

    try:
        try:
            bolt_app = build_bolt_app(config, services, executor)
        except BoltError as exc:  # auth.test refused the token
            logger.error("Slack refused the bot token: %s", exc)
            return 1
        if config.socket_mode:
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            # uvicorn turns SIGTERM into a clean stop; here, make it unwind through `finally` too.
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
            logger.info("connecting to Slack over Socket Mode")
            SocketModeHandler(bolt_app, config.slack_app_token).start()
        else:
            import uvicorn

            uvicorn.run(
                build_web_app(bolt_app, on_shutdown=shut_down),
                host=config.host,
                port=config.port,
                log_config=None,  # app.py configured logging once
                access_log=False,  # a line per click costs more than the click; errors are still logged
                backlog=2048,
                timeout_graceful_shutdown=5,
            )
    finally:
        shut_down()
    return 0


def build_bolt_app(config: Config, services: Services, executor: Executor) -> App:
    """The Bolt App with every listener, their work run on `executor`; its WebClient uses SLACK_API_URL."""
    client_args: dict[str, object] = {"token": config.slack_bot_token, "timeout": 10}
    if config.slack_api_url:
        client_args["base_url"] = config.slack_api_url
    app = App(
        client=WebClient(**client_args),  # type: ignore[arg-type]
        signing_secret=config.slack_signing_secret,
        process_before_response=True,  # acks run inline, the work on `executor`: see bot/listeners
        listener_executor=executor,
    )
    register_listeners(app, services, executor)
    return app


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

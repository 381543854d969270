"""The Slack bot's server: the Bolt app, served over HTTP by uvicorn or over Socket Mode."""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor

from slack_bolt import App
from slack_bolt.error import BoltError
from slack_sdk.errors import SlackApiError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.config import Config
from bot.http_connections import KEEP_ALIVE_TIMEOUT, RESERVED_FILES, guarded_protocol
from bot.listener_pool import ListenerPool, stop_listeners
from bot.listeners import register_listeners
from bot.outbound import REPLY_THREADS, ListenerClient, Replies, build_web_client
from bot.services import Services
from bot.slack_http_guard import build_slack_endpoint
from bot.startup import StartupError, slack_error

logger = logging.getLogger(__name__)
LISTENER_THREADS = 16  # listener work in flight; more only adds GIL contention on small hosts
# Descriptors kept from client connections: the process's own, and a socket to Slack per calling thread.
RESERVED_FILES_BOT = RESERVED_FILES + REPLY_THREADS + LISTENER_THREADS


def serve_slack(config: Config, services: Services) -> int:
    """Serve Slack until stopped: Socket Mode when SLACK_APP_TOKEN is set, otherwise HTTP with uvicorn.

    Returns the exit status; closes `services` on the way out.
    """
    executor = ListenerPool(max_workers=LISTENER_THREADS)
    replies = Replies()
    stopped = threading.Event()

    def shut_down() -> None:
        if not stopped.is_set():
            stopped.set()
            stop_listeners(executor, replies)  # work already acked finishes first, within a deadline
            services.close()
            logger.info("stopped")

    failure: StartupError | None = None
    try:
        try:
            bolt_app = build_bolt_app(config, services, executor, replies)
        except (BoltError, SlackApiError, OSError) as exc:  # Bolt's auth.test of the bot token
            failure = slack_error(exc, config.slack_api_url)
            if failure is None:
                raise
            return failure.exit_status
        if config.socket_mode:
            from bot.socket_mode import run_socket_mode

            try:
                run_socket_mode(bolt_app, config.slack_app_token, config.slack_api_url)
            except StartupError as exc:
                failure = exc
                return exc.exit_status
        else:
            import uvicorn

            uvicorn.run(
                build_web_app(bolt_app, config.slack_signing_secret, on_shutdown=shut_down),
                host=config.host,
                port=config.port,
                log_config=None,  # app.py configured logging once
                access_log=False,  # a line per click costs more than the click; errors are still logged
                backlog=2048,
                http=guarded_protocol(reserved_files=RESERVED_FILES_BOT),  # head deadline, connection cap
                timeout_keep_alive=KEEP_ALIVE_TIMEOUT,
                timeout_graceful_shutdown=3,  # acks take milliseconds; the listeners then get STOP_WAIT
            )
    finally:
        shut_down()
        if failure is not None:
            sys.stderr.write(f"{failure}\n")  # the last line, after the shutdown's log lines
    return 0


def build_bolt_app(
    config: Config, services: Services, executor: Executor, replies: Replies | None = None
) -> App:
    """The Bolt App with every listener, their work run on `executor`; its WebClient uses SLACK_API_URL.

    Every call to Slack has a deadline and no retry, and replies post on `replies` (see bot/outbound.py).
    """
    app = App(
        client=build_web_client(config.slack_bot_token, config.slack_api_url),
        signing_secret=config.slack_signing_secret,
        process_before_response=True,  # acks run inline, the work on `executor`: see bot/listeners
        listener_executor=executor,
    )
    client = ListenerClient(config.slack_bot_token, config.slack_api_url)
    register_listeners(app, services, executor, replies or Replies(), client)
    return app


def build_web_app(
    bolt_app: App, signing_secret: str, on_shutdown: Callable[[], None] | None = None
) -> Starlette:
    """The ASGI app uvicorn serves; Bolt's dispatch runs in a worker thread so it never blocks the loop.

    `on_shutdown` runs (in a thread) when the server stops: uvicorn re-raises SIGTERM once it has shut
    down, so code after uvicorn.run() would never run on a normal stop.
    """

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        if on_shutdown is not None:
            await run_in_threadpool(on_shutdown)

    slack_events = build_slack_endpoint(bolt_app, signing_secret)  # see bot/slack_http_guard.py

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        lifespan=lifespan,
        routes=[
            Route("/slack/events", slack_events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
    )

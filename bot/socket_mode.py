"""Socket Mode: Bolt's aiohttp client, pinging every 5 s, so that a dead connection is replaced within seconds.

Chosen by measurement against a mock Socket Mode server on loopback (see docs/socket-mode.md): of the four
clients slack_sdk ships, only aiohttp replaced a connection dropped without a close frame, a half-open one
and a refreshed one all in time; the built-in client spun a core for a minute after a drop, websocket_client
never noticed a half-open connection, and websockets has no setting for its pong timeout.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from concurrent.futures import Executor, ThreadPoolExecutor

from slack_bolt import App
from slack_bolt.adapter.socket_mode.aiohttp import SocketModeHandler
from slack_bolt.adapter.socket_mode.async_internals import send_async_response
from slack_bolt.adapter.socket_mode.internals import run_bolt_app
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.web.async_client import AsyncWebClient

from bot.startup import EXIT_SLACK, StartupError

logger = logging.getLogger(__name__)
# Seconds between pings. aiohttp closes a connection whose pong is half an interval late, and the client
# reconnects at its next check: a half-open connection goes within about two intervals, a dropped one
# within one. Slack's servers answer pings; 5 s is slack_sdk's default for this client.
PING_INTERVAL = 5.0
DISPATCH_THREADS = 8  # envelopes being dispatched at once (each only until its ack: the work runs elsewhere)
CLOSE_TIMEOUT = 2.0  # seconds to wait for Slack's close frame when stopping


class ThreadedSocketModeHandler(SocketModeHandler):
    """Bolt's aiohttp handler, dispatching each envelope on `executor` so the event loop keeps pinging.

    Bolt's own handler for a sync App runs the listeners on the event loop: a slow ack would delay every
    other envelope and the pings, and a late pong looks like a dead connection.
    """

    def __init__(self, app: App, app_token: str, web_client: AsyncWebClient, executor: Executor) -> None:
        super().__init__(
            app, app_token, logger=_client_logger(), web_client=web_client, ping_interval=PING_INTERVAL
        )
        self.executor = executor

    async def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        """Run Bolt on the envelope in a worker thread, then send its ack (with any reply) back."""
        start = time.time()
        response = await asyncio.get_running_loop().run_in_executor(
            self.executor, run_bolt_app, self.app, req
        )
        await send_async_response(client, req, response, start)


class _WithoutTraceback(logging.Filter):
    """One line per record: the client logs every failed reconnect with a traceback, every 5 s offline."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep the record, dropping its traceback (the message already names the error)."""
        record.exc_info = None
        record.exc_text = None
        return True


def _client_logger() -> logging.Logger:
    """The Socket Mode client's logger, its records one line each."""
    client_logger = logging.getLogger(f"{__name__}.client")
    if not client_logger.filters:
        client_logger.addFilter(_WithoutTraceback())
    return client_logger


def run_socket_mode(app: App, app_token: str, api_url: str | None) -> None:
    """Connect and serve until SIGTERM or SIGINT; StartupError if Slack will not open the first connection."""
    # Acks get threads of their own: queued behind slow listener work, they would miss Slack's 3 s.
    with ThreadPoolExecutor(max_workers=DISPATCH_THREADS, thread_name_prefix="socket-mode") as executor:
        asyncio.run(_serve(app, app_token, api_url, executor))


async def _serve(app: App, app_token: str, api_url: str | None, executor: Executor) -> None:
    web_client = AsyncWebClient(base_url=api_url or AsyncWebClient.BASE_URL, timeout=10)
    handler = ThreadedSocketModeHandler(app, app_token, web_client, executor)
    client = handler.client
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        logger.info("connecting to Slack over Socket Mode")
        # The first URL is asked for here, not in connect(): connect() retries a refused token forever.
        try:
            opened = await web_client.apps_connections_open(app_token=app_token)
            client.wss_uri = opened["url"]
        except SlackApiError as exc:
            error = exc.response.get("error") if isinstance(exc.response.data, dict) else "not Slack's answer"
            raise StartupError(
                f"Slack refused the app-level token (SLACK_APP_TOKEN): {error}. Generate one with the "
                "connections:write scope under Basic Information, App-Level Tokens.",
                EXIT_SLACK,
            ) from None
        except (TimeoutError, OSError) as exc:
            raise StartupError(
                f"could not reach Slack's Socket Mode at SLACK_API_URL ({exc}): check the network.",
                EXIT_SLACK,
            ) from None
        # connect() retries until it succeeds: a SIGTERM meanwhile must still stop the app.
        connecting = asyncio.ensure_future(client.connect())
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({connecting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if connecting.done():
            logger.info("connected to Slack over Socket Mode")
            await stopping
        else:
            connecting.cancel()
        logger.info("stopping: closing the Socket Mode connection")
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        await _close(client)


async def _close(client: SocketModeClient) -> None:
    """Close the connection, waiting at most CLOSE_TIMEOUT for Slack's side of the handshake."""
    try:
        await asyncio.wait_for(client.close(), CLOSE_TIMEOUT)
    except (TimeoutError, OSError):
        logger.info("closed the Socket Mode connection without Slack's close frame")

"""A mock Socket Mode server on 127.0.0.1 that misbehaves like a real network on request.

Modelled on the mock server in python-slack-sdk's tests: it says `hello` on each connection, records what
the client sends back (acks by `envelope_id`), and delivers envelopes. On top of that it can break a
connection the ways a network does: drop the TCP connection without a close frame, go half-open (stop
reading, so pings get no pong), and send `disconnect` with `refresh_requested` as Slack does before it
rotates a connection.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import json
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

_envelope_ids = itertools.count()


def hello_message(connection_id: int) -> dict[str, Any]:
    """The `hello` Slack sends first on every new connection."""
    return {
        "type": "hello",
        "num_connections": 1,
        "debug_info": {"host": f"applink-mock-{connection_id}", "approximate_connection_time": 18060},
        "connection_info": {"app_id": "A0FAKE"},
    }


def disconnect_message(reason: str = "refresh_requested") -> dict[str, Any]:
    """The `disconnect` Slack sends before it closes a connection (refresh_requested, warning, ...)."""
    return {
        "type": "disconnect",
        "reason": reason,
        "debug_info": {"host": "applink-mock"},
    }


def envelope(kind: str, payload: dict[str, Any], accepts_response_payload: bool = True) -> dict[str, Any]:
    """A Socket Mode envelope (`slash_commands`, `interactive`, `events_api`) with a fresh envelope_id."""
    return {
        "envelope_id": f"env-{next(_envelope_ids):06d}-{time.time_ns()}",
        "type": kind,
        "payload": payload,
        "accepts_response_payload": accepts_response_payload,
        **({"retry_attempt": 0, "retry_reason": ""} if kind == "events_api" else {}),
    }


@dataclass
class Link:
    """One WebSocket connection from the client."""

    id: int
    connection: ServerConnection
    opened_at: float = field(default_factory=time.monotonic)
    closed_at: float | None = None
    half_open: bool = False

    @property
    def open(self) -> bool:
        """True until the client closed it or the server dropped it."""
        return self.closed_at is None


@dataclass
class Ack:
    """A message the client sent: its envelope_id ack, with payload, and when it arrived."""

    envelope_id: str
    payload: dict[str, Any] | None
    link_id: int
    at: float = field(default_factory=time.monotonic)


class MockSocketModeServer:
    """Serves ws://127.0.0.1:<port>/link in a thread of its own; every method is safe from any thread."""

    def __init__(self) -> None:
        self.links: list[Link] = []
        self.acks: dict[str, Ack] = {}
        self.sent_at: dict[str, float] = {}
        self._changed = threading.Condition()
        self._loop = asyncio.new_event_loop()
        self._server: Server | None = None
        self._pending: list[concurrent.futures.Future[None]] = []
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="mock-socket-mode")
        self.port = 0

    def __enter__(self) -> MockSocketModeServer:
        self._thread.start()
        self._run(self._start())
        return self

    def __exit__(self, *exc: object) -> None:
        self._run(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    @property
    def url(self) -> str:
        """The ws:// URL apps.connections.open should hand out."""
        return f"ws://127.0.0.1:{self.port}/link"

    # -- what the client did ------------------------------------------------------------------------

    def open_links(self) -> list[Link]:
        """Working connections, oldest first: open (not closed by the client, not dropped) and not half-open."""
        with self._changed:
            return [link for link in self.links if link.open and not link.half_open]

    def wait_for_link(self, after: int = -1, timeout: float = 30.0) -> Link:
        """The newest working connection with id > `after` (block until there is one)."""
        found = self._wait(lambda: [k for k in self.open_links() if k.id > after], timeout, "a new link")
        return found[-1]

    def wait_for_ack(self, envelope_id: str, timeout: float = 10.0) -> Ack:
        """The ack of `envelope_id` (block until it arrives)."""
        found = self._wait(
            lambda: [self.acks[envelope_id]] if envelope_id in self.acks else [], timeout, envelope_id
        )
        return found[0]

    def wait_closed(self, link: Link, timeout: float = 30.0) -> float:
        """When `link` closed (block until it does)."""
        self._wait(lambda: [link] if not link.open else [], timeout, f"link {link.id} closed")
        assert link.closed_at is not None
        return link.closed_at

    def ack_latency(self, envelope_id: str) -> float:
        """Seconds from sending `envelope_id` to its ack."""
        return self.acks[envelope_id].at - self.sent_at[envelope_id]

    # -- what the server does -----------------------------------------------------------------------

    def send(self, message: dict[str, Any], link: Link | None = None) -> str:
        """Send a message on `link` (default: the newest working one); returns its envelope_id, if any."""
        target = link or self.wait_for_link(timeout=30.0)
        envelope_id = str(message.get("envelope_id", ""))

        async def go() -> None:
            if envelope_id:
                self.sent_at[envelope_id] = time.monotonic()
            await target.connection.send(json.dumps(message))

        self._run(go())
        return envelope_id

    def drop(self, link: Link) -> None:
        """Drop the TCP connection with no close frame (a crashed host, a reset NAT entry)."""

        async def go() -> None:
            transport = link.connection.transport
            transport.abort()
            self._closed(link)

        self._run(go())

    def go_half_open(self, link: Link) -> None:
        """Stop reading `link` (its pings get no pong, its acks are not seen) and never send on it again."""

        async def go() -> None:
            link.half_open = True
            link.connection.transport.pause_reading()

        self._run(go())

    def refresh(self, link: Link, close_after: float = 5.0) -> None:
        """`disconnect` with `refresh_requested` on `link`, then close it `close_after` seconds later."""
        self.send(disconnect_message("refresh_requested"), link)

        async def close_later() -> None:
            await asyncio.sleep(close_after)
            await link.connection.close()

        self._pending.append(asyncio.run_coroutine_threadsafe(close_later(), self._loop))

    # -- internals ----------------------------------------------------------------------------------

    async def _start(self) -> None:
        self._server = await serve(
            self._handle,
            "127.0.0.1",
            0,
            ping_interval=None,  # Slack's server pings are not what is under test: the client's are
            process_request=None,
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        for pending in self._pending:
            pending.cancel()
        if self._server is not None:
            for link in self.links:
                if link.open:
                    link.connection.transport.abort()
            self._server.close()
            try:  # let the server finish closing before the loop stops
                await asyncio.wait_for(self._server.wait_closed(), 5)
            except TimeoutError:
                pass

    async def _handle(self, connection: ServerConnection) -> None:
        with self._changed:
            link = Link(len(self.links), connection)
            self.links.append(link)
            self._changed.notify_all()
        try:
            await connection.send(json.dumps(hello_message(link.id)))
            async for raw in connection:
                if link.half_open:
                    continue
                self._received(link, raw)
        except ConnectionClosed:
            pass
        finally:
            self._closed(link)

    def _received(self, link: Link, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            return
        if isinstance(message, dict) and message.get("envelope_id"):
            with self._changed:
                ack = Ack(str(message["envelope_id"]), message.get("payload"), link.id)
                self.acks.setdefault(ack.envelope_id, ack)
                self._changed.notify_all()

    def _closed(self, link: Link) -> None:
        with self._changed:
            if link.closed_at is None:
                link.closed_at = time.monotonic()
            self._changed.notify_all()

    def _wait(self, get: Callable[[], list[Any]], timeout: float, what: str) -> list[Any]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not (found := get()):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"mock Socket Mode server: no {what} after {timeout}s")
                self._changed.wait(left)
            return found

    def _run(self, coroutine: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

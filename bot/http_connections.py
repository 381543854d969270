"""uvicorn's HTTP protocol with what it lacks against slow clients: a head deadline and a connection cap.

Both servers use it: the Slack bot (bot/slack_server.py) and the Personalizer service (bot/api/server.py).
uvicorn closes a connection idle after a response (timeout_keep_alive), but not one that has sent nothing or
half a request head (a slowloris), and it keeps every connection it accepts: each holds a file descriptor,
and enough of them leave none for /healthz. Here each request's line and headers must arrive within
HEAD_TIMEOUT of the connection (the first request) or of the request's first byte (the next ones on a
keep-alive connection), and once the cap is reached the connection that has been idle or sending its head
the longest is closed to admit the new one. A connection whose request is being handled is never closed:
the application's own deadlines bound it.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

logger = logging.getLogger(__name__)
HEAD_TIMEOUT = (
    5.0  # seconds for a request's line and headers (Slack and HTTP clients send them in one packet)
)
KEEP_ALIVE_TIMEOUT = 5  # seconds an idle keep-alive connection stays open (uvicorn closes it)
MAX_CONNECTIONS = 1_000
# Descriptors the rest of a process holds at most: the database (a SQLite connection is three files: the
# database, its WAL and its shared memory, for each pooled connection) and the lock files, the logs, the
# model files, outbound HTTPS connections (the bot's reply and listener threads), the event loop's own.
RESERVED_FILES = 64
# A head timer that fires this late means the event loop was busy, not that the client was slow: what the
# client sent may still be unread (uvloop runs due timers before reading sockets), so it gets this long more.
LATE_GRACE = 0.5


def connection_cap(wanted: int = MAX_CONNECTIONS, reserved: int = RESERVED_FILES) -> int:
    """The most client connections to keep: `wanted`, or what the open-file limit leaves after `reserved`.

    Each client connection is one descriptor, plus one for the connection accepted before the oldest is
    closed; with an open-file limit of `soft`, that is soft - reserved - 1 (never fewer than 8). A process
    that holds more than RESERVED_FILES (the bot's threads that call Slack) says how many.
    """
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(8, min(wanted, soft - reserved - 1))


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a head deadline and a connection cap (see the module docstring)."""

    head_timeout = HEAD_TIMEOUT
    max_connections = MAX_CONNECTIONS
    closed = 0  # connections this process closed for being slow or surplus (for the log)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_deadline = 0.0
        self._since = time.monotonic()  # when it last became idle or started a request head

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Arm the deadline for the first request's head; make room if the cap is reached."""
        super().connection_made(transport)
        self._arm()
        if len(self.connections) > self.max_connections:
            self._evict_one()

    def on_message_begin(self) -> None:
        """A keep-alive connection's next request has the same deadline for its head."""
        super().on_message_begin()
        if self._head_timer is None:
            self._arm()

    def on_headers_complete(self) -> None:
        """The head arrived in time: the request runs under the application's own limits."""
        self._disarm()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        """Between requests the connection is idle again (the keep-alive timeout, or evictable)."""
        self._since = time.monotonic()
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the deadline with the connection."""
        self._disarm()
        super().connection_lost(exc)

    def _busy(self) -> bool:
        """A request read and not yet answered: its handler is running (or a pipelined one waits)."""
        return self.cycle is not None and not self.cycle.response_complete

    def _arm(self) -> None:
        self._disarm()
        self._since = time.monotonic()
        self._head_deadline = self.loop.time() + self.head_timeout
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_too_slow)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self._busy():  # a pipelined head behind a request being handled: its clock starts after it
            self._arm()
            return
        if self.loop.time() - self._head_deadline > LATE_GRACE:
            self._head_deadline = self.loop.time() + LATE_GRACE
            self._head_timer = self.loop.call_later(LATE_GRACE, self._head_too_slow)
            return
        self._close("request head too slow")

    def _evict_one(self) -> None:
        # A scan of at most max_connections + 1, only while the cap is reached: cheaper than keeping an order.
        idle = [
            c
            for c in self.connections
            if isinstance(c, GuardedHttpToolsProtocol) and c is not self and not c._busy()
        ]
        if idle:
            min(idle, key=lambda c: c._since)._close("connection cap reached")

    def _close(self, why: str) -> None:
        self._disarm()
        if self.transport.is_closing():
            return
        GuardedHttpToolsProtocol.closed += 1
        count = GuardedHttpToolsProtocol.closed
        if count in (1, 10, 100) or count % 1000 == 0:  # a count, never a line per connection
            logger.warning("closed %d slow or surplus client connections (latest: %s)", count, why)
        self.transport.close()


def guarded_protocol(
    max_connections: int | None = None,
    head_timeout: float = HEAD_TIMEOUT,
    reserved_files: int = RESERVED_FILES,
) -> type[GuardedHttpToolsProtocol]:
    """The protocol class for uvicorn's `http=`: capped at `max_connections` (default: connection_cap())."""
    cap = connection_cap(reserved=reserved_files) if max_connections is None else max_connections
    attributes = {"max_connections": cap, "head_timeout": head_timeout}
    return type("GuardedProtocol", (GuardedHttpToolsProtocol,), attributes)

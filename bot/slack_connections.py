"""uvicorn's HTTP protocol with what it lacks against slow clients: a header deadline and a connection limit.

uvicorn closes idle keep-alive connections, but a connection that never finishes its request headers
(a slowloris), or sends nothing at all, stays open for ever, and each holds a file descriptor: enough of
them and the server cannot accept /healthz. Here every request's headers must arrive within
HEADER_TIMEOUT, and once MAX_CONNECTIONS are open the oldest one without a request in progress is closed
to admit the new one, so the descriptors never run out and a new client is always served.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from collections import OrderedDict
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

logger = logging.getLogger(__name__)
HEADER_TIMEOUT = 5.0  # seconds for a request's line and headers (Slack sends them in one packet)
KEEP_ALIVE_TIMEOUT = 5  # seconds an idle keep-alive connection stays open (uvicorn closes it)
MAX_CONNECTIONS = 1_000
FILES_PER_CONNECTION = 2  # half the descriptors for clients; the rest for the database, Slack and logs
# A header timer that fires this late means the event loop was busy, not that the client was slow: what the
# client sent may still be unread (uvloop runs due timers before reading sockets), so it gets this long more.
LATE_GRACE = 0.5


def connection_limit(ceiling: int = MAX_CONNECTIONS) -> int:
    """How many client connections to keep open: `ceiling`, or fewer when the open-file limit is low."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return ceiling
    return max(8, min(ceiling, soft // FILES_PER_CONNECTION))


def guarded_protocol(limit: int, header_timeout: float = HEADER_TIMEOUT) -> type[HttpToolsProtocol]:
    """An HttpToolsProtocol class (uvicorn's `http=`) enforcing the header deadline and `limit` connections."""
    open_connections: OrderedDict[GuardedProtocol, None] = OrderedDict()  # oldest first
    evicted = [0]

    class GuardedProtocol(HttpToolsProtocol):
        _header_timer: asyncio.TimerHandle | None = None
        _header_deadline = 0.0

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm_header_timer()
            open_connections[self] = None
            if len(open_connections) > limit:
                self._evict_one()

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_header_timer()
            open_connections.pop(self, None)
            super().connection_lost(exc)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._arm_header_timer()  # a keep-alive connection's next request has the same deadline

        def on_headers_complete(self) -> None:
            self._cancel_header_timer()
            super().on_headers_complete()

        def _busy(self) -> bool:
            """A request read and not yet answered: its handler is running."""
            return self.cycle is not None and not self.cycle.response_complete

        def _evict_one(self) -> None:
            for other in open_connections:
                if other is not self and not other._busy():
                    other._close("connection limit reached")
                    return

        def _arm_header_timer(self) -> None:
            if self._header_timer is None:
                self._header_deadline = self.loop.time() + header_timeout
                self._header_timer = self.loop.call_later(header_timeout, self._headers_late)

        def _headers_late(self) -> None:
            if self.loop.time() - self._header_deadline > LATE_GRACE:
                self._header_deadline = self.loop.time() + LATE_GRACE
                self._header_timer = self.loop.call_later(LATE_GRACE, self._headers_late)
                return
            self._close("headers too slow")

        def _cancel_header_timer(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _close(self, why: str) -> None:
            self._header_timer = None
            open_connections.pop(self, None)
            if not self.transport.is_closing():
                evicted[0] += 1
                if evicted[0] in (1, 10, 100) or evicted[0] % 1000 == 0:  # a count, never a flood of lines
                    logger.warning(
                        "closed %d slow or surplus client connections (latest: %s)", evicted[0], why
                    )
                self.transport.close()

    return GuardedProtocol

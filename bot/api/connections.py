"""The HTTP connections uvicorn keeps open: a deadline for each request's head, and a bounded number.

uvicorn closes a connection idle after a response (timeout_keep_alive) but not one that has sent nothing or
half a request line, and it keeps every connection it accepts: a few hundred clients trickling headers
(a slowloris) would hold the service, and with a low open-file limit nothing else could connect, `/healthz`
included. Here each request's head must arrive within HEAD_TIMEOUT of its first byte (or of the
connection, for the first request), and when the connections reach the cap the oldest one that is not in
the middle of a request (still sending its head, or idle between requests) is closed to make room.
"""

from __future__ import annotations

import asyncio
import resource
import time
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEAD_TIMEOUT = 5.0
KEEP_ALIVE_TIMEOUT = 5
MAX_CONNECTIONS = 1_000
RESERVED_FILES = 64  # descriptors kept for the database, the log, the lock files and the model files


def connection_cap(wanted: int = MAX_CONNECTIONS) -> int:
    """The most connections to keep: `wanted`, or fewer when the open-file limit leaves less room."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(8, min(wanted, soft - RESERVED_FILES))


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a head deadline and a connection cap (see the module docstring)."""

    head_timeout = HEAD_TIMEOUT
    max_connections = MAX_CONNECTIONS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline: asyncio.TimerHandle | None = None
        self._in_request = False
        self._since = time.monotonic()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Arm the deadline for the first request's head; make room if the cap is reached."""
        super().connection_made(transport)
        self._arm()
        if len(self.connections) > self.max_connections:
            self._evict_one()

    def data_received(self, data: bytes) -> None:
        """A new request's first bytes after an idle spell start its head deadline."""
        if self._head_deadline is None and not self._in_request:
            self._arm()
        super().data_received(data)

    def on_headers_complete(self) -> None:
        """The head arrived in time: the request runs under the application's own limits."""
        self._disarm()
        self._in_request = True
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        """Between requests the connection is idle again (keep-alive timeout, or evictable)."""
        self._in_request = False
        self._since = time.monotonic()
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the deadline with the connection."""
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._since = time.monotonic()
        self._head_deadline = self.loop.call_later(self.head_timeout, self._head_too_slow)

    def _disarm(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        if not self._in_request and not self.transport.is_closing():
            self.transport.close()

    def _evict_one(self) -> None:
        idle = [
            c
            for c in self.connections
            if isinstance(c, GuardedHttpToolsProtocol) and c is not self and not c._in_request
        ]
        if idle:
            oldest = min(idle, key=lambda c: c._since)
            oldest._disarm()
            oldest.transport.close()

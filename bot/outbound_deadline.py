"""A wall-clock deadline for a whole HTTP call to Slack: connect, headers and body, however slowly they come.

urllib's timeout bounds each socket operation, so an endpoint that sends its headers and then one byte of
the body at a time, each within the timeout, holds the calling thread for as long as it likes. Here every
call runs within(seconds): its sockets are watched by one daemon thread, which shuts them down when the
deadline passes, and the blocked read then fails at once. slack_sdk's clients open their connections
through urllib; DeadlineWebClient and DeadlineWebhookClient open them through an opener whose connections
register their sockets, and are otherwise slack_sdk's own.
"""

from __future__ import annotations

import functools
import heapq
import http.client
import io
import itertools
import logging
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.error import HTTPError
from urllib.request import OpenerDirector, Request

from slack_sdk import WebClient
from slack_sdk.errors import SlackRequestError
from slack_sdk.webhook import WebhookClient, WebhookResponse

logger = logging.getLogger(__name__)


class _Call:
    """One call's deadline and the sockets it opened."""

    __slots__ = ("deadline", "sockets", "done", "expired")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.sockets: list[socket.socket] = []
        self.done = False
        self.expired = False


class Watchdog:
    """Shuts down the sockets of calls that outlive their deadline (one thread for the whole process)."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._calls: list[tuple[float, int, _Call]] = []  # a heap by deadline; ended calls drop off its top
        self._order = itertools.count()
        self._local = threading.local()
        self._thread: threading.Thread | None = None

    @contextmanager
    def within(self, seconds: float) -> Iterator[None]:
        """Run the block's HTTP calls (made on this thread) under one deadline, `seconds` from now."""
        call = _Call(time.monotonic() + seconds)
        with self._changed:
            heapq.heappush(self._calls, (call.deadline, next(self._order), call))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="outbound-deadline", daemon=True)
                self._thread.start()
            if self._calls[0][2] is call:
                self._changed.notify()
        outer, self._local.call = getattr(self._local, "call", None), call
        try:
            yield
        finally:
            self._local.call = outer
            with self._changed:
                call.done = True

    def left(self, ceiling: float) -> float:
        """Seconds left to this thread's call, at most `ceiling` (a socket timeout that never outlasts it)."""
        call: _Call | None = getattr(self._local, "call", None)
        return ceiling if call is None else max(0.001, min(ceiling, call.deadline - time.monotonic()))

    def watch(self, sock: socket.socket) -> None:
        """Shut `sock` down when this thread's call outlives its deadline."""
        call: _Call | None = getattr(self._local, "call", None)
        if call is None:
            return
        with self._changed:
            call.sockets.append(sock)
            if call.expired:
                _shut(sock)

    def _run(self) -> None:
        with self._changed:
            while True:
                while self._calls and self._calls[0][2].done:
                    heapq.heappop(self._calls)
                if not self._calls:
                    self._changed.wait()
                    continue
                left = self._calls[0][0] - time.monotonic()
                if left > 0:
                    self._changed.wait(left)
                    continue
                _, _, call = heapq.heappop(self._calls)
                call.expired = True
                for sock in call.sockets:
                    _shut(sock)


def _shut(sock: socket.socket) -> None:
    # socket.socket's own shutdown, also for an SSLSocket: the blocked TLS read then fails at once, and the
    # SSL object stays for the reading thread to fail on cleanly.
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass  # already closed


WATCHDOG = Watchdog()


def _watched_connection(conn: http.client.HTTPConnection) -> None:
    """Open `conn`'s sockets under the thread's deadline: connect with the time left, then watch them."""

    def create(address: tuple[str, int], timeout: Any = None, source: Any = None) -> socket.socket:
        sock = socket.create_connection(address, WATCHDOG.left(float(timeout or 60)), source)
        WATCHDOG.watch(sock)
        return sock

    conn._create_connection = create  # type: ignore[attr-defined]  # http.client's own hook for the socket


class _HTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _watched_connection(self)


class _HTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _watched_connection(self)

    def connect(self) -> None:
        super().connect()
        WATCHDOG.watch(self.sock)  # the TLS socket that replaced the plain one


class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: Request) -> Any:
        return self.do_open(_HTTPConnection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req: Request) -> Any:
        return self.do_open(_HTTPSConnection, req, context=self._context)  # type: ignore[attr-defined]


@functools.lru_cache(maxsize=8)
def opener(ssl: Any = None, proxy: str | None = None) -> OpenerDirector:
    """A urllib opener whose connections are watched (slack_sdk's clients take `ssl` and `proxy`).

    Built once per (ssl, proxy): building one reads the proxy settings from the environment, which cost
    more than the rest of a call. Its handlers keep no per-call state (each call gets its own connection),
    so threads share it as they share urllib's own global opener.
    """
    handlers: list[Any] = [_HTTPHandler(), _HTTPSHandler(context=ssl)]
    if proxy:
        handlers.insert(0, urllib.request.ProxyHandler({"http": proxy, "https": proxy}))
    return urllib.request.build_opener(*handlers)


def fetch(req: Request, timeout: float, ssl: Any = None, proxy: str | None = None) -> tuple[Any, bytes]:
    """Open `req` and read its whole answer within `timeout` s in all: (the response, its body).

    An HTTP error's body is read here too, under the same deadline, before the error goes to slack_sdk.
    """
    with WATCHDOG.within(timeout):
        try:
            resp = opener(ssl, proxy).open(req, timeout=timeout)
            return resp, resp.read()
        except HTTPError as error:
            body = error.read()
            raise HTTPError(error.url, error.code, error.msg, error.headers, io.BytesIO(body)) from None


class DeadlineWebClient(WebClient):
    """slack_sdk's WebClient where `timeout` is for the whole call, the body's last byte included."""

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        if not url.lower().startswith("http"):
            raise SlackRequestError(f"Invalid URL detected: {url}")
        resp, body = fetch(req, self.timeout, self.ssl, self.proxy)
        if resp.headers.get_content_type() == "application/gzip":
            return {"status": resp.code, "headers": resp.headers, "body": body}
        charset = resp.headers.get_content_charset() or "utf-8"
        return {"status": resp.code, "headers": resp.headers, "body": body.decode(charset)}


class DeadlineWebhookClient(WebhookClient):
    """slack_sdk's WebhookClient (response_urls) where `timeout` is for the whole call."""

    def _perform_http_request_internal(self, url: str, req: Request) -> WebhookResponse:
        if not url.lower().startswith("http"):
            raise SlackRequestError(f"Invalid URL detected: {url}")
        resp, body = fetch(req, self.timeout, self.ssl, self.proxy)
        charset = resp.headers.get_content_charset() or "utf-8"
        return WebhookResponse(
            url=url, status_code=resp.status, body=body.decode(charset), headers=resp.headers
        )

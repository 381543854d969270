"""The connection guard both servers run: slow heads closed, the cap makes room, a busy loop is no excuse."""

from __future__ import annotations

import asyncio
import resource
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import uvicorn

from bot.api.server import guarded_protocol as service_protocol
from bot.http_connections import GuardedHttpToolsProtocol, connection_cap, guarded_protocol
from bot.slack_server import RESERVED_FILES_BOT

release = threading.Event()  # set by the test: /wait answers


async def app(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
    """/wait answers when the test sets `release`; anything else at once: a 200."""
    if scope["type"] != "http":
        return
    if scope["path"] == "/wait":
        while not release.is_set():
            await asyncio.sleep(0.02)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


def held_read(self: GuardedHttpToolsProtocol, data: bytes) -> None:
    """A read that holds the event loop for 1.5 s when the data is b"HOLD"."""
    if data == b"HOLD":
        time.sleep(1.5)
        return
    GuardedHttpToolsProtocol.data_received(self, data)


made: list[None] = []  # one entry per connection the server has taken


def counted_connection_made(self: GuardedHttpToolsProtocol, transport: Any) -> None:
    GuardedHttpToolsProtocol.connection_made(self, transport)
    made.append(None)


class Running:
    """uvicorn on a free loopback port, in a thread, with a guarded protocol class."""

    def __init__(self, protocol: type[GuardedHttpToolsProtocol]) -> None:
        config = uvicorn.Config(
            app, host="127.0.0.1", port=0, loop="uvloop", http=protocol, log_config=None, lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]

    def connect(self) -> socket.socket:
        """A new connection, once the server has taken it (so the order of connections is the test's)."""
        before = len(made)
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        deadline = time.monotonic() + 10
        while len(made) == before and time.monotonic() < deadline:
            time.sleep(0.01)  # uvicorn's loop is in another thread: nothing to wait on but the count
        return sock

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def ask(sock: socket.socket, path: str = "/") -> bytes:
    """One keep-alive GET on `sock`; the answer's first bytes (b"" if the server closed it)."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    try:
        return sock.recv(4096)
    except ConnectionResetError:
        return b""


def closed_by_server(sock: socket.socket) -> bool:
    sock.settimeout(0.5)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


@pytest.fixture
def serve() -> Iterator[Callable[..., Running]]:
    """Start servers whose protocol is the service's own, with this test's timeout and cap."""
    started: list[Running] = []

    def start(head_timeout: float = 5.0, max_connections: int = 100, held_reads: bool = False) -> Running:
        attributes: dict[str, Any] = {
            "head_timeout": head_timeout,
            "max_connections": max_connections,
            "connection_made": counted_connection_made,
        }
        if held_reads:
            attributes["data_received"] = held_read
        running = Running(type("Test", (service_protocol(),), attributes))
        started.append(running)
        return running

    release.clear()
    yield start
    release.set()
    for running in started:
        running.stop()


def test_both_servers_run_the_one_guard() -> None:
    assert issubclass(service_protocol(), GuardedHttpToolsProtocol)
    assert issubclass(guarded_protocol(), GuardedHttpToolsProtocol)


def test_a_connection_that_sends_no_head_is_closed(serve: Callable[..., Running]) -> None:
    server = serve(head_timeout=0.5)
    with server.connect() as silent:
        silent.settimeout(5)
        assert silent.recv(1) == b""  # closed by the server (our timeout would raise)


def test_a_head_sent_in_time_is_answered_although_the_loop_was_held(serve: Callable[..., Running]) -> None:
    """The head deadline falls while the loop is held in another connection's read (in the bot: by listener
    threads holding the GIL); when it wakes, due timers run before sockets are read: the head that
    arrived in time still counts."""
    server = serve(head_timeout=1.0, held_reads=True)
    with server.connect() as waiting, server.connect() as holder:
        holder.sendall(b"HOLD")  # the server's read of this holds its loop for 1.5 s, from about 0.1 s
        time.sleep(0.4)
        waiting.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # 0.5 s into its 1 s deadline
        waiting.settimeout(5)
        assert waiting.recv(4096).startswith(b"HTTP/1.1 200")


def test_at_the_cap_the_longest_idle_connection_makes_room(serve: Callable[..., Running]) -> None:
    """A keep-alive client that was just served stays; the one idle since longest is closed."""
    server = serve(max_connections=4)
    regular, silent = server.connect(), server.connect()
    assert ask(regular).startswith(b"HTTP/1.1 200")  # busy a moment ago: idle for less time than `silent`
    others = [server.connect(), server.connect()]
    newcomer = server.connect()
    assert ask(newcomer).startswith(b"HTTP/1.1 200")
    assert closed_by_server(silent)
    assert ask(regular).startswith(b"HTTP/1.1 200")
    for sock in [regular, silent, newcomer, *others]:
        sock.close()


def test_a_connection_whose_request_is_being_handled_is_never_closed_to_make_room(
    serve: Callable[..., Running],
) -> None:
    server = serve(max_connections=2)
    busy = server.connect()
    busy.sendall(b"GET /wait HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.1)
    idle = server.connect()
    newcomer = server.connect()
    assert ask(newcomer).startswith(b"HTTP/1.1 200")
    assert closed_by_server(idle)
    release.set()
    busy.settimeout(5)
    assert busy.recv(4096).startswith(b"HTTP/1.1 200")
    for sock in (busy, idle, newcomer):
        sock.close()


@pytest.mark.parametrize(("open_files", "cap"), [(128, 63), (256, 191), (20_000, 1_000), (40, 8)])
def test_the_cap_leaves_the_reserve_of_open_files_to_the_rest_of_the_process(
    monkeypatch: pytest.MonkeyPatch, open_files: int, cap: int
) -> None:
    monkeypatch.setattr(resource, "getrlimit", lambda _which: (open_files, open_files))
    assert connection_cap() == cap


def test_the_bot_keeps_a_descriptor_for_each_thread_that_calls_slack(monkeypatch: pytest.MonkeyPatch) -> None:
    """With 256 open files, 64 reply threads and 16 listener threads that may each hold a socket to Slack."""
    monkeypatch.setattr(resource, "getrlimit", lambda _which: (256, 256))
    assert guarded_protocol(reserved_files=RESERVED_FILES_BOT).max_connections == 256 - 64 - 64 - 16 - 1

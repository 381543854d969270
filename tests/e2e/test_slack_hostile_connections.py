"""Slow and idle connections: closed by the bot's server, so /healthz answers under a slowloris."""

from __future__ import annotations

import resource
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_fakes import FakeSlack, RunningApp, app_environment, start_app
from slack_hostile import address

OPEN_FILES = 256  # a small host's limit: the slow connections alone would use every descriptor
SLOW = 400


def low_open_file_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (OPEN_FILES, OPEN_FILES))


@pytest.fixture(scope="module")
def bot(fake_slack: FakeSlack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    """The bot with a low open-file limit."""
    workdir: Path = tmp_path_factory.mktemp("connections")
    app = start_app(app_environment(fake_slack, workdir), workdir, preexec_fn=low_open_file_limit)
    yield app
    app.stop()


class Slowloris:
    """`count` connections that send a request's headers one byte every half second, never finishing."""

    def __init__(self, app: RunningApp, count: int) -> None:
        self.sockets: list[socket.socket] = []
        self.closed_by_server = 0
        self._stop = threading.Event()
        for _ in range(count):
            sock = socket.create_connection(address(app), timeout=5)
            sock.sendall(b"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            self.sockets.append(sock)
        self._thread = threading.Thread(target=self._drip, daemon=True)
        self._thread.start()

    def _drip(self) -> None:
        while not self._stop.wait(0.5):
            for sock in list(self.sockets):
                try:
                    sock.sendall(b"a")
                except OSError:
                    self.sockets.remove(sock)
                    self.closed_by_server += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for sock in self.sockets:
            sock.close()


def healthz_seconds(app: RunningApp) -> float:
    """Seconds for GET /healthz on a new connection; 99 when it does not answer within 5 s."""
    started = time.perf_counter()
    try:
        with socket.create_connection(address(app), timeout=5) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            answer = sock.recv(4096)
    except OSError:
        return 99.0
    return time.perf_counter() - started if answer.startswith(b"HTTP/1.1 200") else 99.0


def test_healthz_answers_under_a_slowloris_with_few_open_files(bot: RunningApp) -> None:
    attack = Slowloris(bot, SLOW)
    try:
        time.sleep(1)
        assert max(healthz_seconds(bot) for _ in range(5)) < 3
        time.sleep(12)  # past the header timeout: the server has closed the connections that never finished
        assert attack.closed_by_server > SLOW // 2
        assert max(healthz_seconds(bot) for _ in range(5)) < 3
    finally:
        attack.close()


def test_a_connection_that_sends_nothing_is_closed(bot: RunningApp) -> None:
    with socket.create_connection(address(bot), timeout=20) as sock:
        started = time.monotonic()
        assert sock.recv(1) == b""  # closed by the server, not by our timeout (which would raise)
        assert time.monotonic() - started < 15

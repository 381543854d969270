"""Slow and idle connections: closed by the bot's server, so /healthz answers under a slowloris."""

from __future__ import annotations

import resource
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_fakes import FakeSlack, RunningApp, app_environment, start_app
from slack_hostile import Slowloris, address, healthz_seconds

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

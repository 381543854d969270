"""`python app.py` over Socket Mode against a mock Socket Mode server that breaks connections like a network.

The deadlines asserted are what a user notices (a bot deaf for a minute, an ack past Slack's 3 s), with
room to spare: the measured figures are in docs/socket-mode.md.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_fakes import REPO, app_environment, block_action, free_port, taste_state
from socket_mode_app import (
    APP_TOKEN,
    SocketModeApp,
    SocketModeSlack,
    events_api,
    interactive,
    slash_command,
    start_socket_mode_app,
)
from socket_mode_server import MockSocketModeServer

from blocks import ids

DROP_REPLACED_WITHIN = 15.0  # seconds from a connection dropped without a close frame to a working new one
DROP_CPU_SECONDS = 3.0  # CPU the app may use meanwhile
HALF_OPEN_REPLACED_WITHIN = 20.0
REFRESH_ACK_WITHIN = 2.5
SIGTERM_EXIT_WITHIN = 10.0


@pytest.fixture(scope="module")
def slack() -> Iterator[SocketModeSlack]:
    """The fake Web API and response_url sink, handing out the mock server's URL."""
    with SocketModeSlack() as fake:
        yield fake


@pytest.fixture(scope="module")
def server(slack: SocketModeSlack) -> Iterator[MockSocketModeServer]:
    """The mock Socket Mode server the fake Web API points at."""
    with MockSocketModeServer() as mock:
        slack.socket_url = mock.url
        yield mock


@pytest.fixture(scope="module")
def bot(
    slack: SocketModeSlack, server: MockSocketModeServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SocketModeApp]:
    """The real app, connected over Socket Mode; the tests below break its connection in turn."""
    workdir = tmp_path_factory.mktemp("socket_mode")
    app = start_socket_mode_app(app_environment(slack, workdir, SLACK_APP_TOKEN=APP_TOKEN), server, workdir)
    yield app
    app.stop()


def _suggestion_arrives(slack: SocketModeSlack, server: MockSocketModeServer, name: str) -> None:
    """A slash command on the current connection is acked, and its suggestion reaches the response_url."""
    envelope_id = server.send(slash_command("sweet night", slack.response_url(name)))
    assert server.wait_for_ack(envelope_id).envelope_id == envelope_id
    reply = slack.wait_for_responses(name, 1, timeout=10)[0]
    assert any(b.get("block_id") == ids.VOTE_BLOCK for b in reply["blocks"]), reply


def test_connects_with_the_app_token_and_gets_hello(bot: SocketModeApp, slack: SocketModeSlack) -> None:
    calls = slack.api_calls("apps.connections.open")
    assert calls and all(c["_authorization"] == f"Bearer {APP_TOKEN}" for c in calls)
    assert bot.server.open_links()


def test_a_slash_command_is_acked_and_the_suggestion_reaches_the_response_url(
    bot: SocketModeApp, slack: SocketModeSlack, server: MockSocketModeServer
) -> None:
    _suggestion_arrives(slack, server, "sm-command")


def test_an_interactive_suggest_click_is_acked_and_answered(
    bot: SocketModeApp, slack: SocketModeSlack, server: MockSocketModeServer
) -> None:
    url = slack.response_url("sm-click")
    payload = block_action(ids.SUGGEST, url, value="|evening", state=taste_state("salty"))
    envelope_id = server.send(interactive(payload))
    server.wait_for_ack(envelope_id)
    reply = slack.wait_for_responses("sm-click", 1, timeout=10)[0]
    assert any(b.get("block_id") == ids.VOTE_BLOCK for b in reply["blocks"]), reply


def test_an_app_home_opened_event_is_acked_and_the_home_tab_published(
    bot: SocketModeApp, slack: SocketModeSlack, server: MockSocketModeServer
) -> None:
    seen = len(slack.api_calls("views.publish"))
    event = {"type": "app_home_opened", "user": "U3CAROL", "channel": "D0", "tab": "home", "event_ts": "1.2"}
    envelope_id = server.send(events_api(event))
    server.wait_for_ack(envelope_id)
    published = slack.wait_for_api("views.publish", seen + 1, timeout=10)
    assert published[-1]["user_id"] == "U3CAROL"


def test_a_refresh_never_holds_an_ack_past_2_5_s(
    bot: SocketModeApp, slack: SocketModeSlack, server: MockSocketModeServer
) -> None:
    old = server.wait_for_link()
    server.refresh(old, close_after=5.0)
    sent: list[str] = []
    started = time.monotonic()
    while time.monotonic() - started < 3.0:  # commands keep coming while the connection is rotated
        link = (server.open_links() or [server.wait_for_link(after=old.id, timeout=5)])[-1]
        sent.append(server.send(slash_command("salty evening", slack.response_url("sm-refresh")), link))
        time.sleep(0.1)
    for envelope_id in sent:
        server.wait_for_ack(envelope_id, timeout=10)
    slowest = max(server.ack_latency(e) for e in sent)
    assert slowest <= REFRESH_ACK_WITHIN, f"an ack took {slowest:.2f}s during a refresh"
    assert server.wait_for_link(after=old.id, timeout=5).id > old.id  # it did move to a new connection
    slack.wait_for_responses("sm-refresh", len(sent), timeout=15)


def test_a_connection_dropped_without_a_close_frame_is_replaced_quickly_and_cheaply(
    bot: SocketModeApp, slack: SocketModeSlack, server: MockSocketModeServer
) -> None:
    old = server.wait_for_link()
    cpu_before = bot.cpu_seconds()
    server.drop(old)
    replacement = server.wait_for_link(after=old.id, timeout=DROP_REPLACED_WITHIN)
    assert replacement.opened_at - (old.closed_at or 0) <= DROP_REPLACED_WITHIN
    assert bot.cpu_seconds() - cpu_before < DROP_CPU_SECONDS
    _suggestion_arrives(slack, server, "sm-after-drop")


def test_a_half_open_connection_is_detected_and_replaced(
    bot: SocketModeApp, slack: SocketModeSlack, server: MockSocketModeServer
) -> None:
    old = server.wait_for_link()
    server.go_half_open(old)
    went_quiet = time.monotonic()
    replacement = server.wait_for_link(after=old.id, timeout=HALF_OPEN_REPLACED_WITHIN)
    assert replacement.opened_at - went_quiet <= HALF_OPEN_REPLACED_WITHIN
    _suggestion_arrives(slack, server, "sm-after-half-open")


def test_sigterm_stops_the_socket_mode_bot_promptly_after_finishing_acked_work(
    bot: SocketModeApp, slack: SocketModeSlack, server: MockSocketModeServer
) -> None:
    envelope_id = server.send(slash_command("sweet evening", slack.response_url("sm-sigterm")))
    server.wait_for_ack(envelope_id)
    bot.process.send_signal(signal.SIGTERM)
    assert bot.process.wait(timeout=SIGTERM_EXIT_WITHIN) == 0
    assert len(slack.responses("sm-sigterm")) == 1  # the acked suggestion was still delivered
    log = bot.log()
    assert log.rstrip().endswith(": stopped") and "Traceback" not in log, log


def test_sigterm_stops_the_bot_while_it_cannot_reach_the_socket_mode_url(tmp_path: Path) -> None:
    with SocketModeSlack(f"ws://127.0.0.1:{free_port()}/link") as slack:  # nothing listens there
        env = app_environment(slack, tmp_path, SLACK_APP_TOKEN=APP_TOKEN)
        log_path = tmp_path / "app.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, str(REPO / "app.py")], cwd=tmp_path, env=env, stdout=log, stderr=log
            )
        try:
            slack.wait_for_api("apps.connections.open", 1, timeout=30)
            deadline = time.monotonic() + 30
            while "Failed to connect" not in log_path.read_text() and time.monotonic() < deadline:
                time.sleep(0.05)  # polling a log file: nothing to be notified by
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=SIGTERM_EXIT_WITHIN) == 0
            log_text = log_path.read_text()
            assert "Failed to connect" in log_text and "Traceback" not in log_text, log_text
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()

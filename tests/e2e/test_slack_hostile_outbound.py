"""Slack endpoints that hang: one user's slow reply or slow users.info never holds another user's reply."""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_fakes import FakeSlack, RunningApp, app_environment, start_app
from slack_hostile import bystander_seconds, hang_replies

HANGING = 18  # more than the listener threads the bot had
HANG = 60.0  # seconds a hanging endpoint holds its connection before answering


def start_bot(fake: FakeSlack, workdir: Path) -> RunningApp:
    """A bot of its own: these tests leave connections hanging."""
    return start_app(app_environment(fake, workdir), workdir)


@pytest.fixture(scope="module")
def bot(fake_slack: FakeSlack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    """`python app.py` for the hanging-endpoint tests."""
    app = start_bot(fake_slack, tmp_path_factory.mktemp("outbound"))
    yield app
    app.stop()


def hang(app: RunningApp, fake: FakeSlack, prefix: str, count: int = HANGING) -> list[str]:
    """`count` users whose response_urls hang send a slash command each; their response_url names."""
    assert set(hang_replies(app, fake, prefix, count, HANG)) == {"200"}
    names = [f"{prefix}-{i}" for i in range(count)]
    fake.wait(
        lambda: [n for n in names if fake.held(f"respond/{n}")], min(count, 18), 10.0, "hanging replies"
    )
    return names


def test_hanging_response_urls_do_not_hold_another_users_reply(
    bot: RunningApp, fake_slack: FakeSlack
) -> None:
    names = hang(bot, fake_slack, "hang")
    assert bystander_seconds(bot, fake_slack, "bystander-hang") < 3
    assert bystander_seconds(bot, fake_slack, "bystander-hang-2", user="U9OTHER") < 3
    assert bot.healthy()
    time.sleep(4)  # long enough for a retry to arrive, were there one: it would post the same reply twice
    assert all(fake_slack.held(f"respond/{name}") == 1 for name in names)


def test_a_slow_users_info_delays_neither_that_users_menus_nor_anyone_else(
    bot: RunningApp, fake_slack: FakeSlack
) -> None:
    fake_slack.delays["api/users.info/U5SLOWTZ"] = 10.0
    started = time.perf_counter()
    assert bot.command("", fake_slack.response_url("slow-tz"), user="U5SLOWTZ").status_code == 200
    assert bystander_seconds(bot, fake_slack, "bystander-tz") < 3
    menus = fake_slack.wait(lambda: fake_slack.response_calls("slow-tz"), 1, 15.0, "menus")[0]
    assert menus.at - started < 3
    assert "blocks" in menus.body


def test_sigterm_stops_within_10_s_with_replies_in_flight_and_says_what_it_abandoned(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    app = start_bot(fake_slack, tmp_path)
    try:
        hang(app, fake_slack, "term", count=300)  # more than can be posted before the deadline
        started = time.monotonic()
        app.process.send_signal(signal.SIGTERM)
        try:
            app.process.wait(timeout=10)
        except Exception:
            pytest.fail(f"still running 10 s after SIGTERM:\n{app.log()[-3000:]}")
        assert time.monotonic() - started < 10
        stopping = re.search(
            r"stopping with \d+ listener jobs and (\d+) replies in flight.*and (\d+) replies", app.log()
        )
        assert stopping is not None, app.log()[-3000:]
        in_flight, abandoned = map(int, stopping.groups())
        assert in_flight >= 18 and abandoned > 0
    finally:
        app.stop()

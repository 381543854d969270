"""Slack endpoints that hang: one user's slow reply or slow users.info never holds another user's reply."""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_fakes import DRIP_BYTES, FakeSlack, RunningApp, app_environment, start_app
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


def test_dripping_response_urls_cost_their_deadline_and_hold_no_other_users_reply(
    bot: RunningApp, fake_slack: FakeSlack
) -> None:
    """18 response_urls answer at once, then a byte every 0.3 s (two minutes for the whole answer)."""
    assert set(hang_replies(bot, fake_slack, "drip", HANGING, drip=0.3)) == {"200"}
    names = [f"drip-{i}" for i in range(HANGING)]
    fake_slack.wait(lambda: [n for n in names if fake_slack.held(f"respond/{n}")], HANGING, 10.0, "drips")
    assert bystander_seconds(bot, fake_slack, "bystander-drip") < 3
    cuts = fake_slack.wait(
        lambda: [c for n in names for c in fake_slack.cuts(f"respond/{n}")], HANGING, 10.0, "hang-ups"
    )
    assert all(cut["sent"] < DRIP_BYTES for cut in cuts)  # the bot hung up, the answer unfinished
    # Each reply gave up at its deadline (REPLY_TIMEOUT, 2 s), as the bot logs it: never later.
    waits = [float(s) for s in re.findall(r"a reply to a response_url failed after ([\d.]+) s", bot.log())]
    assert len(waits) >= HANGING and max(waits) < 2.5, waits
    assert bystander_seconds(bot, fake_slack, "bystander-drip-2", user="U9OTHER") < 3
    assert all(fake_slack.held(f"respond/{name}") == 1 for name in names)  # none retried


def test_a_dripping_users_info_delays_neither_that_users_menus_nor_anyone_else(
    bot: RunningApp, fake_slack: FakeSlack
) -> None:
    fake_slack.drips["api/users.info/U5DRIPTZ"] = 0.3
    started = time.perf_counter()
    assert bot.command("", fake_slack.response_url("drip-tz"), user="U5DRIPTZ").status_code == 200
    assert bystander_seconds(bot, fake_slack, "bystander-drip-tz") < 3
    menus = fake_slack.wait(lambda: fake_slack.response_calls("drip-tz"), 1, 15.0, "menus")[0]
    assert menus.at - started < 3
    assert "blocks" in menus.body


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

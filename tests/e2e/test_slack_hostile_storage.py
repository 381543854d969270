"""The database turns read-only or full while the bot runs: users get a friendly message, then it recovers."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from slack_fakes import FakeSlack, RunningApp, app_environment, block_action, start_app, taste_state
from slack_hostile import bystander_seconds

from blocks import ids
from blocks.messages import RANKER_DOWN, STORAGE_DOWN


@pytest.fixture
def bot(fake_slack: FakeSlack, tmp_path: Path) -> Iterator[RunningApp]:
    """A bot of its own: its database is about to fail."""
    app = start_app(app_environment(fake_slack, tmp_path), tmp_path)
    yield app
    app.stop()


def database_files(app: RunningApp) -> list[Path]:
    """The SQLite database and its WAL."""
    database = Path(app.database_url.removeprefix("sqlite:///"))
    return [p for p in (database, database.with_name(database.name + "-wal")) if p.exists()]


@contextmanager
def read_only(app: RunningApp) -> Iterator[None]:
    """The database files cannot be written, even through the connections already open (chattr +i)."""
    files = [str(p) for p in database_files(app)]
    subprocess.run(["chattr", "+i", *files], check=True)
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", *files], check=True)


@contextmanager
def disk_full(app: RunningApp) -> Iterator[None]:
    """No file of the bot's can grow or be written (its file-size limit at 0: EFBIG, as a full disk)."""
    limits = resource.prlimit(app.process.pid, resource.RLIMIT_FSIZE)
    resource.prlimit(app.process.pid, resource.RLIMIT_FSIZE, (0, limits[1]))
    try:
        yield
    finally:
        resource.prlimit(app.process.pid, resource.RLIMIT_FSIZE, limits)


def answer_to(
    app: RunningApp, fake: FakeSlack, name: str, send: Callable[[str], object]
) -> dict[str, object]:
    """Send a request whose reply goes to response_url `name`; the reply."""
    send(fake.response_url(name))
    return fake.wait_for_responses(name, 1, 10.0)[0]


def vote_value(message: dict[str, Any]) -> str:
    """The event ID the 👍 button of a suggestion message carries."""
    for block in message["blocks"]:
        for element in block.get("elements", []):
            if element.get("action_id") == ids.VOTE_UP:
                return str(element["value"])
    raise AssertionError(f"no 👍 in {message}")


IMMUTABLE_FILES = os.geteuid() == 0 and shutil.which("chattr") is not None  # chattr +i needs root


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(
            read_only, id="read-only", marks=pytest.mark.skipif(not IMMUTABLE_FILES, reason="needs root")
        ),
        pytest.param(disk_full, id="disk-full"),
    ],
)
def test_a_failing_database_gets_a_friendly_message_and_the_bot_recovers(
    bot: RunningApp, fake_slack: FakeSlack, fault: Callable[[RunningApp], AbstractContextManager[None]]
) -> None:
    tag = fault.__name__
    shown = answer_to(bot, fake_slack, f"{tag}-before", lambda url: bot.command("sweet evening", url))
    event_id = vote_value(shown)
    during = [
        lambda url: bot.command("sweet evening", url, user="U2FAULT"),
        lambda url: bot.action(block_action(ids.SUGGEST, url, user="U2FAULT", state=taste_state("salty"))),
        lambda url: bot.action(block_action(ids.VOTE_UP, url, value=event_id)),
    ]
    with fault(bot):
        for i, send in enumerate(during):
            reply = answer_to(bot, fake_slack, f"{tag}-during-{i}", send)
            assert reply.get("response_type") == "ephemeral" and not reply.get("replace_original"), reply
            assert reply["text"] in (RANKER_DOWN, STORAGE_DOWN), reply  # says what is wrong and what to do
        assert bot.process.poll() is None
    deadline = time.monotonic() + 15
    while True:  # recovers by itself, without a restart, soon after the storage is back
        name = f"{tag}-after-{time.monotonic_ns()}"
        reply = answer_to(
            bot, fake_slack, name, lambda url: bot.command("sweet evening", url, user="U3AFTER")
        )
        if "blocks" in reply or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert "blocks" in reply, reply
    voted = answer_to(
        bot, fake_slack, f"{tag}-vote", lambda url: bot.action(block_action(ids.VOTE_UP, url, value=event_id))
    )
    assert "blocks" in voted, voted
    assert bystander_seconds(bot, fake_slack, f"{tag}-bystander") < 3

"""Supervision: a background thread that raises is restarted, and Health says so meanwhile."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from bot.personalizer.local import background
from bot.personalizer.local import health as health_module
from bot.personalizer.local.health import Health, Supervised
from bot.personalizer.local.loop import open_learning_loop


def test_a_failing_thread_is_restarted_and_reported() -> None:
    health_module.RESTART_PAUSE = 0.05
    health = Health()
    stop = threading.Event()
    runs: list[int] = []
    restarted = threading.Event()

    def target() -> None:
        runs.append(1)
        if len(runs) == 1:
            raise RuntimeError("boom")
        restarted.set()
        stop.wait()

    supervised = Supervised("pz-test", target, health, stop)
    supervised.start()
    assert restarted.wait(5)
    deadline = time.monotonic() + 5
    while health.problems() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert health.problems() == {}
    assert health.restarts["pz-test"] == 1
    stop.set()
    supervised.join(5)


def test_failures_are_reported_until_recovery() -> None:
    health = Health()
    health.failed("writer", "the disk is full")
    assert health.problems() == {"writer": "the disk is full"}
    health.recovered("writer")
    assert health.problems() == {}


def test_a_dead_thread_is_a_problem() -> None:
    health = Health()
    health.watch("pz-writer", lambda: False)
    assert health.problems() == {"pz-writer": "the thread is not running"}


def test_a_trainer_lock_that_cannot_be_created_is_a_reported_failure_not_a_crash(
    tmp_path: Path, clock, monkeypatch
) -> None:
    # What read-only or full storage does to the lock file beside a SQLite database: open() fails.
    monkeypatch.setattr(background, "REFRESH_INTERVAL", 0.05)
    database = tmp_path / "pz.db"
    (tmp_path / "pz.db.trainer-lock").mkdir()  # open(..., "a") on it raises IsADirectoryError
    loop = open_learning_loop(f"sqlite:///{database}", clock=clock)
    try:
        deadline = time.monotonic() + 10
        while "trainer" not in loop.health.problems():
            assert time.monotonic() < deadline, loop.health.problems()
            clock.advance(60)
            time.sleep(0.05)
        assert "trainer-lock" in loop.health.problems()["trainer"]
        assert loop.health.restarts.get("pz-trainer", 0) == 0
    finally:
        loop.close()

"""The listener pool stops within its deadline, whatever its work is stuck on, and says what it abandoned."""

from __future__ import annotations

import logging
import threading

import pytest

from bot.listener_pool import ListenerPool, stop_listeners
from bot.outbound import Replies


def test_stop_returns_with_stuck_work_and_counts_it() -> None:
    release = threading.Event()
    pool = ListenerPool(max_workers=1)
    pool.submit(release.wait)  # stuck until released
    pool.submit(lambda: None)  # queued behind it
    assert pool.in_flight() == 2
    assert pool.stop(wait=0.1) == (1, 1)  # one still running, one never started
    release.set()


def test_finished_work_is_not_counted() -> None:
    pool = ListenerPool(max_workers=2)
    for _ in range(5):
        pool.submit(lambda: None)
    assert pool.stop(wait=5) == (0, 0)
    assert pool.in_flight() == 0


def test_stop_listeners_logs_what_was_in_flight_and_abandoned(caplog: pytest.LogCaptureFixture) -> None:
    release = threading.Event()
    pool = ListenerPool(max_workers=1)
    pool.submit(release.wait)
    with caplog.at_level(logging.WARNING, logger="bot.listener_pool"):
        stop_listeners(pool, Replies(), wait=0.2)
    release.set()
    assert caplog.records[0].getMessage() == (
        "stopping with 1 listener jobs and 0 replies in flight; abandoned 1 jobs (0 never started) and 0 replies"
    )

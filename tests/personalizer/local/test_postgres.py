"""The hot path on PostgreSQL: plans that stay right as the log grows, and connections that come back."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import insert, text

from bot.db import create_database_engine
from bot.personalizer.base import RankerUnavailable, RankRequest
from bot.personalizer.local import store
from bot.personalizer.local.eventlog import batch as writer_module
from tests.personalizer.local.conftest import SEED_ACTIONS, SEED_CONTEXT
from tests.personalizer.local.test_learning_loop import open_loop, rank

pytestmark = pytest.mark.postgres
LOGGED_LATER = 5_000
REQUEST = RankRequest(SEED_CONTEXT, SEED_ACTIONS, ["juice"])  # as test_learning_loop.rank() sends


def log_reads(url: str, updates: int) -> int:
    """Rows of pz_events read by sequential scans, once PostgreSQL's statistics count `updates` updates."""
    engine = create_database_engine(url)
    query = text("SELECT n_tup_upd, seq_tup_read FROM pg_stat_user_tables WHERE relname = 'pz_events'")
    try:
        deadline = time.monotonic() + 15  # a backend reports its statistics as it exits
        while True:
            with engine.connect() as conn:
                updated, read = conn.execute(query).one()
            if updated >= updates or time.monotonic() > deadline:
                assert updated >= updates, "PostgreSQL did not report the rewards' updates"
                return int(read)
            time.sleep(0.1)
    finally:
        engine.dispose()


def test_rewards_and_training_find_their_events_by_key_after_the_log_has_grown(fresh_database, clock):
    """A plan PostgreSQL caches must not scan the log. psycopg prepares a statement on its fifth run, and
    PL/pgSQL may cache the plans of its statements (the writer's pz_write_batch does; the trainer's
    pz_mark_learned plans each call, since a cached plan of its marks once walked the pending events). Made
    while the log was nearly empty, the generic plan for finding a reward's event was once a sequential scan,
    kept as the log grew: every reward read the whole log."""
    url = fresh_database("postgresql")
    # Without log retention: its purge is planned for each round, from statistics that can lag the log.
    loop = open_loop(url, clock, log_retention_days=-1)
    try:
        for _ in range(20):  # a new service's first rewards, and its first training round
            loop.reward(rank(loop), 1.0)
        assert loop.train_once() == 20
        template = store.get_event(loop._engine, rank(loop))
        with loop._engine.begin() as conn:
            conn.execute(
                insert(store.events), [{**template, "event_id": f"later-{n}"} for n in range(LOGGED_LATER)]
            )
        for _ in range(20):
            loop.reward(rank(loop), 1.0)
        assert loop.train_once() == 20
    finally:
        loop.close()
    # 40 rewards and 40 marks. The first ones scanned a few dozen rows at most; 20 scans of the grown log
    # would read 100,000.
    assert log_reads(url, updates=80) < LOGGED_LATER


def test_options_in_the_database_url_are_kept_beside_the_services_own(fresh_database):
    engine = create_database_engine(fresh_database("postgresql") + "?options=-c%20statement_timeout%3D4321")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "4321ms"
            assert conn.exec_driver_sql("SHOW plan_cache_mode").scalar() == "force_custom_plan"
    finally:
        engine.dispose()


def drop_connections(url: str) -> int:
    """What a PostgreSQL restart does to the service: every other connection to its database is closed."""
    engine = create_database_engine(url)
    try:
        with engine.connect() as conn:
            return len(
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                ).all()
            )
    finally:
        engine.dispose()


def rank_and_reward(loop, runner: asyncio.Runner) -> None:
    """A rank and its reward from an event loop, as the service sends them: the event loop's own writer."""

    async def pair() -> None:
        await loop.reward_async((await loop.rank_async(REQUEST)).event_id, 1.0)

    runner.run(pair())


@contextlib.contextmanager
def loop_after_a_restart(url: str, clock) -> Iterator[tuple[Any, str, asyncio.Runner]]:
    """A loop that wrote on its own connection and its event loop's, both of which PostgreSQL has since
    closed, as a restart does; yields the loop, the event it ranked first, and the event loop's runner."""
    loop = open_loop(url, clock)
    try:
        with asyncio.Runner() as runner:
            event_id = rank(loop)
            rank_and_reward(loop, runner)
            assert drop_connections(url) >= 2
            yield loop, event_id, runner
    finally:
        loop.close()


def test_a_database_restart_while_the_service_is_idle_costs_no_request(fresh_database, clock, monkeypatch):
    monkeypatch.setattr(writer_module, "IDLE_PING", 0.05)  # the thread callers' and the event loop's
    with loop_after_a_restart(fresh_database("postgresql"), clock) as (loop, event_id, runner):
        time.sleep(0.1)  # idle for longer than IDLE_PING
        loop.reward(event_id, 1.0)
        for _ in range(10):
            rank_and_reward(loop, runner)
        assert [value for value, _ in store.event_rewards(loop._engine, event_id)] == [1.0]


def test_connections_lost_while_busy_fail_one_write_each_then_come_back(fresh_database, clock, monkeypatch):
    """No retry inside the service: the commit may have landed, and a retry would store the write twice."""
    monkeypatch.setattr(writer_module, "IDLE_PING", float("inf"))
    with loop_after_a_restart(fresh_database("postgresql"), clock) as (loop, event_id, runner):
        with pytest.raises(RankerUnavailable, match="could not be written"):
            loop.reward(event_id, 1.0)
        loop.reward(event_id, 1.0)  # a new connection
        outcomes = []
        for _ in range(20):  # the event loop's writer finds its connection gone once, then reconnects
            try:
                rank_and_reward(loop, runner)
                outcomes.append("ok")
            except RankerUnavailable:
                outcomes.append("refused")
        assert outcomes.count("refused") == 1 and outcomes[-5:] == ["ok"] * 5
        assert [value for value, _ in store.event_rewards(loop._engine, event_id)] == [1.0]


def test_the_event_loops_writer_keeps_the_options_in_the_database_url(fresh_database, clock):
    loop = open_loop(fresh_database("postgresql") + "?options=-c%20statement_timeout%3D4321", clock)
    try:

        async def settings() -> list[str]:
            await loop.rank_async(REQUEST)  # opens the event loop's connection
            (link,) = loop._events._event_loops._links.values()
            return [
                await link.connection.fetchval(f"SHOW {name}")
                for name in ("statement_timeout", "plan_cache_mode")
            ]

        assert asyncio.run(settings()) == ["4321ms", "force_custom_plan"]
    finally:
        loop.close()

"""The event log: where ranks, rewards and activations become durable, chosen once per database.

Thread callers (the bot, the console) commit their own write. Event-loop callers (the REST service) share
group commits: on SQLite through the writer thread (thread_writer.py), on PostgreSQL sent from their own
event loop on asyncpg (asyncpg_writer.py). Every call returns, or its await ends, only once the write is
committed; a reward or activation for an unknown event fails with EventNotFound, a taken event ID with
InvalidRequest, and a database that cannot take the write in time with RankerUnavailable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from bot.db import is_sqlite
from bot.personalizer.base import RankerUnavailable
from bot.personalizer.local.eventlog.asyncpg_writer import LoopWriter
from bot.personalizer.local.eventlog.thread_writer import GroupCommitWriter
from bot.personalizer.local.health import Health

WRITE_TIMEOUT = 10.0  # seconds an event loop's caller waits for its commit before a 503


class EventLog:
    """The loop's one way to write events. Thread-safe; the async methods run on the caller's event loop."""

    def __init__(self, engine: Engine, health: Health | None = None) -> None:
        sqlite = is_sqlite(engine)
        self._threads = GroupCommitWriter(engine, event_loops=sqlite, health=health)
        self._event_loops: GroupCommitWriter | LoopWriter = (
            self._threads if sqlite else LoopWriter(engine, health=health)
        )

    def log_event(self, row: dict[str, Any]) -> None:
        """Log a ranked event (durable on return); InvalidRequest if its event ID is taken."""
        self._threads.submit_event(row)

    def log_reward(self, event_id: str, value: float, at: float) -> None:
        """Keep a reward (durable on return); EventNotFound for an unknown event."""
        self._threads.submit_reward(event_id, value, at)

    def log_activation(self, event_id: str, at: float) -> None:
        """Record an activation (durable on return); EventNotFound for an unknown event."""
        self._threads.submit_activation(event_id, at)

    async def log_event_async(self, row: dict[str, Any]) -> None:
        """log_event() for an event loop: awaits the group commit instead of blocking a thread."""
        await _committed(lambda waiter: self._event_loops.submit_event(row, waiter))

    async def log_reward_async(self, event_id: str, value: float, at: float) -> None:
        """log_reward() for an event loop."""
        await _committed(lambda waiter: self._event_loops.submit_reward(event_id, value, at, waiter))

    async def log_activation_async(self, event_id: str, at: float) -> None:
        """log_activation() for an event loop."""
        await _committed(lambda waiter: self._event_loops.submit_activation(event_id, at, waiter))

    def close(self) -> None:
        """Finish what is queued, then close every connection."""
        self._threads.close()
        if self._event_loops is not self._threads:
            self._event_loops.close()


async def _committed(submit: Callable[[asyncio.Future[None]], object]) -> None:
    """Hand a write over and wait, without blocking the event loop, until it is committed."""
    waiter = asyncio.get_running_loop().create_future()
    submit(waiter)
    try:
        async with asyncio.timeout(WRITE_TIMEOUT):
            await waiter
    except TimeoutError:
        raise RankerUnavailable("the event log did not answer in time") from None

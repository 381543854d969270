"""Group commit on PostgreSQL for callers on an event loop: the batch goes out from that event loop, on asyncpg.

The service's rank, reward and activate requests await their writes here. Each event loop has one
connection and sends one batch at a time: while a batch is at the server the next one gathers, and it is
sent as one call of `pz_write_batch` (sql/write_batch.sql) as soon as the last one is answered. Callers are
answered only after the call that holds their write has committed.

Why not the writer thread (thread_writer.py), which thread callers and SQLite still use: handing each batch to a
thread and its answers back cost the service's workers a thread switch, the GIL and a wake-up of the event
loop per batch, and psycopg's per-call work in Python. Over seven alternating 60 s load runs, the workers'
CPU per request was 309 µs this way against 348 µs with the thread, and throughput 6% higher; psycopg's own
AsyncConnection on the event loop saved nothing (docs/service.md).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from bot.db import postgres_options
from bot.personalizer.base import RankerUnavailable
from bot.personalizer.local import health as supervision
from bot.personalizer.local.eventlog import batch as shared
from bot.personalizer.local.eventlog.batch import (
    CONTENT_ERRORS,
    MAX_BATCH,
    Write,
    abandon,
    answer_waiters,
    not_written,
    postgres_batch,
    refused_alone,
    storage_fault,
    taken_event_id,
    unknown_events,
)
from bot.personalizer.local.health import Health

try:
    import asyncpg
except ImportError as exc:  # pragma: no cover - a requirement; the message says which
    raise ImportError("the PostgreSQL event log needs asyncpg: pip install -r requirements.txt") from exc

logger = logging.getLogger(__name__)
CONNECT_TIMEOUT = 10.0
CALL = "SELECT pz_write_batch($1::jsonb, $2, $3, $4, $5)"
# Errors that lose the connection or the batch; a taken event ID (an integrity error) is handled apart.
# asyncpg's InternalClientError: a connection the server closed while it sat idle can be left mid-protocol.
LOST = (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError, OSError, TimeoutError)


@dataclass
class _LoopLink:
    """One event loop's queue and connection; used only on that event loop."""

    pending: list[Write] = field(default_factory=list)
    task: asyncio.Task[None] | None = None
    connection: Any = None  # asyncpg.Connection, opened on first use
    used: float = 0.0


class LoopWriter:
    """Commits the writes of callers on event loops to PostgreSQL. submit_* run on the caller's event loop;
    close() may run on any thread."""

    def __init__(self, engine: Engine, health: Health | None = None) -> None:
        self._health = health or Health()
        url = engine.url.set(drivername="postgresql").difference_update_query(["options"])
        self._dsn = url.render_as_string(hide_password=False)
        self._server_settings = {"options": postgres_options(engine.url)}
        self._links: dict[asyncio.AbstractEventLoop, _LoopLink] = {}
        self._links_lock = threading.Lock()
        self._closed = False

    def submit_event(self, row: dict[str, Any], waiter: asyncio.Future[None]) -> None:
        """Log a ranked event; the waiter fails with InvalidRequest if its event ID is taken."""
        self._submit(Write("rank", row, waiter))

    def submit_reward(self, event_id: str, value: float, at: float, waiter: asyncio.Future[None]) -> None:
        """Keep a reward; the waiter fails with EventNotFound for an unknown event."""
        self._submit(Write("reward", {"id": event_id, "value": value, "at": at}, waiter))

    def submit_activation(self, event_id: str, at: float, waiter: asyncio.Future[None]) -> None:
        """Record an activation; the waiter fails with EventNotFound for an unknown event."""
        self._submit(Write("activate", {"id": event_id, "at": at}, waiter))

    def close(self) -> None:
        """Refuse new writes and close every event loop's connection (a batch still at the server fails)."""
        self._closed = True
        with self._links_lock:
            links, self._links = list(self._links.items()), {}
        for event_loop, link in links:
            _terminate(event_loop, link)

    def _submit(self, write: Write) -> None:
        assert write.waiter is not None
        if self._closed:
            write.waiter.set_exception(RankerUnavailable("the learner is shutting down"))
            return
        link = self._link(write.waiter.get_loop())
        link.pending.append(write)
        if link.task is None:
            link.task = write.waiter.get_loop().create_task(self._drain(link))

    def _link(self, event_loop: asyncio.AbstractEventLoop) -> _LoopLink:
        link = self._links.get(event_loop)
        if link is None:
            with self._links_lock:
                # Event loops come and go in tests and scripts (asyncio.run): drop the closed ones' connections.
                for gone in [other for other in self._links if other.is_closed()]:
                    _terminate(gone, self._links.pop(gone))
                link = self._links.setdefault(event_loop, _LoopLink())
        return link

    async def _drain(self, link: _LoopLink) -> None:
        batch: list[Write] = []
        try:
            while link.pending:
                batch = link.pending[:MAX_BATCH]
                del link.pending[:MAX_BATCH]
                try:
                    outcomes = await self._commit(link, batch)
                except Exception:  # a bug must not leave callers waiting, nor stop the writes after them
                    logger.exception("the event log's batch failed")
                    _drop(link)
                    outcomes = not_written(batch)
                answer_waiters(
                    [(write.waiter, error) for write, error in outcomes if write.waiter is not None]
                )
                batch = []
        except (KeyboardInterrupt, SystemExit, asyncio.CancelledError):  # shutdown: answer, then go on ending
            abandon(batch)
            raise
        except BaseException as exc:
            # The task dies anyway: its callers hear now, not at their timeout, and the writes after them
            # get a new task (the next write starts one; a pause later, one starts for what is pending).
            logger.exception("the event log's writer task failed; restarting it")
            self._health.failed("pz-writer", f"restarting after {type(exc).__name__}")
            self._health.restarts["pz-writer"] = self._health.restarts.get("pz-writer", 0) + 1
            _drop(link)
            abandon(batch)
            asyncio.get_running_loop().call_later(supervision.RESTART_PAUSE, self._restarted, link)
        finally:
            link.task = None

    def _restarted(self, link: _LoopLink) -> None:
        self._health.recovered("pz-writer")
        if link.task is None and link.pending and not self._closed:
            link.task = asyncio.get_running_loop().create_task(self._drain(link))

    async def _commit(self, link: _LoopLink, batch: list[Write]) -> list[tuple[Write, Exception | None]]:
        """Commit a batch; each write with its failure (None when it is durable)."""
        try:
            failures = await self._write(link, batch)
        except asyncpg.IntegrityConstraintViolationError:
            if len(batch) == 1:
                return [(batch[0], taken_event_id())]
            # One duplicate event ID must not fail its neighbours: retry each write on its own.
            return [outcome for write in batch for outcome in await self._commit(link, [write])]
        except (asyncpg.DataError, *CONTENT_ERRORS) as exc:
            # The server refused a value (the call rolled back whole): that write alone fails.
            if len(batch) == 1:
                return [(batch[0], refused_alone(batch[0], exc))]
            return [outcome for write in batch for outcome in await self._commit(link, [write])]
        except LOST as exc:
            # No retry: the commit may have landed, and a retry could store the writes twice.
            fault = storage_fault(exc)
            logger.error("the event log could not be written: %s %s", type(exc).__name__, fault)
            self._health.failed("event log", f"writes fail: {fault or type(exc).__name__}")
            _drop(link)
            return not_written(batch, fault)
        except asyncio.CancelledError:  # the event loop is shutting down: the connection's state is unknown
            _drop(link)
            raise
        self._health.recovered("event log")
        return [(write, failures.get(id(write))) for write in batch]

    async def _write(self, link: _LoopLink, batch: list[Write]) -> dict[int, Exception]:
        connection = await self._connection(link)
        ordered, arguments = postgres_batch(
            [w for w in batch if w.kind == "rank"], [w for w in batch if w.kind != "rank"]
        )
        missing = await connection.fetchval(CALL, *arguments)
        link.used = time.monotonic()
        return unknown_events(ordered, missing)

    async def _connection(self, link: _LoopLink) -> Any:
        """The link's connection: reopened if the server closed it, and pinged first after shared.IDLE_PING
        seconds unused (the thread writer's bound too), so that a database restart while the service was idle
        costs no request."""
        if link.connection is not None and (
            link.connection.is_closed()
            or (time.monotonic() - link.used > shared.IDLE_PING and not await _alive(link))
        ):
            logger.info("the writer's idle database connection was gone; opening another")
            _drop(link)
        if link.connection is None:
            link.connection = await asyncpg.connect(
                self._dsn, server_settings=self._server_settings, timeout=CONNECT_TIMEOUT
            )
        return link.connection


async def _alive(link: _LoopLink) -> bool:
    try:
        await link.connection.fetchval("SELECT 1", timeout=CONNECT_TIMEOUT)
    except LOST:
        return False
    return True


def _drop(link: _LoopLink) -> None:
    connection, link.connection = link.connection, None
    if connection is not None:
        connection.terminate()


def _terminate(event_loop: asyncio.AbstractEventLoop, link: _LoopLink) -> None:
    """Close a link's connection from any thread: on its own event loop, or at once if that loop is gone."""
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    try:
        if running is event_loop or event_loop.is_closed() or not event_loop.is_running():
            _drop(link)
        else:
            event_loop.call_soon_threadsafe(_drop, link)
    except RuntimeError:  # a closed event loop cannot close its transport; the socket goes with the loop
        link.connection = None

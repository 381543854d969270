# Over 300 lines on purpose: the writer thread, its supervision and its commits share one queue.
"""Group commit from threads: the bot's and the console's writes, and on SQLite every event loop's too.

Callers are answered only after the transaction that holds their write has committed, so nothing is
acknowledged before it is durable. Event-loop callers share commits: their writes queue up for the writer
thread, which commits whatever arrived together in one transaction (SQLite only; on PostgreSQL event loops
send their batches themselves, in asyncpg_writer.py). A thread caller, which blocks anyway, commits its own
write, the same way, on a connection of its own under the same lock.

The writer owns its DBAPI connections and sends its fixed statements through them directly: under load
SQLAlchemy's per-statement work in this thread competed for the GIL with the request thread and was the
service's bottleneck. On SQLite a batch is an `executemany` per kind of write; on PostgreSQL it is one call
of a server-side function (sql/write_batch.sql), because there each statement costs a round trip and the
server's own per-statement work. Everything else (schema, queries, training) goes through SQLAlchemy.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from typing import Any

from sqlalchemy import Engine

from bot.db import write_lock
from bot.personalizer.base import EventNotFound, RankerUnavailable
from bot.personalizer.local.eventlog.batch import (
    CONTENT_ERRORS,
    EVENT_COLUMNS,
    MAX_BATCH,
    Write,
    abandon,
    multislot_event,
    not_written,
    postgres_batch,
    refused_alone,
    settle,
    storage_fault,
    taken_event_id,
    unknown_events,
)
from bot.personalizer.local.eventlog.link import Link
from bot.personalizer.local.health import Health, Supervised

logger = logging.getLogger(__name__)


class _SqliteBatch:
    """SQLite: one `executemany` per kind of statement, in one transaction."""

    insert_event = (
        f"INSERT INTO pz_events ({', '.join(EVENT_COLUMNS)}) VALUES ({', '.join(['?'] * len(EVENT_COLUMNS))})"
    )
    # Rewards after the deadline change nothing here; pz_rewards keeps them all.
    reward = (
        "UPDATE pz_events SET "
        "first_reward = COALESCE(first_reward, CASE WHEN deadline >= ? THEN ? END), "
        "reward_sum = reward_sum + CASE WHEN deadline >= ? THEN ? ELSE 0 END, "
        "reward_count = reward_count + CASE WHEN deadline >= ? THEN 1 ELSE 0 END "
        "WHERE event_id = ? AND slots IS NULL"  # only slot rewards decide a multi-slot event
    )
    insert_reward = "INSERT INTO pz_rewards (event_id, value, received_at) VALUES (?, ?, ?)"
    activate = "UPDATE pz_events SET activated_at = COALESCE(activated_at, ?) WHERE event_id = ?"

    def write(self, connection: Any, ranks: list[Write], updates: list[Write]) -> dict[int, Exception]:
        """Commit the batch; returns the per-write failures (unknown events)."""
        cursor = connection.cursor()
        try:
            failures = self._statements(cursor, ranks, updates)
            connection.commit()
        finally:
            cursor.close()
        return failures

    def _statements(self, cursor: Any, ranks: list[Write], updates: list[Write]) -> dict[int, Exception]:
        failures: dict[int, Exception] = {}
        if ranks:
            cursor.executemany(
                self.insert_event, [tuple(w.params.get(c) for c in EVENT_COLUMNS) for w in ranks]
            )
        if updates:
            ids = list({w.params["id"] for w in updates})
            cursor.execute(
                f"SELECT event_id FROM pz_events WHERE event_id IN ({', '.join(['?'] * len(ids))})", ids
            )
            known = {row[0] for row in cursor.fetchall()}
            rewards, activations = [], []
            for write in updates:
                p = write.params
                if p["id"] not in known:
                    failures[id(write)] = EventNotFound(p["id"])
                elif write.kind == "reward":
                    rewards.append(write)
                else:
                    activations.append((p["at"], p["id"]))
            if rewards:
                rewards = self._rewards(cursor, rewards, failures)
                cursor.executemany(
                    self.insert_reward, [(w.params["id"], w.params["value"], w.params["at"]) for w in rewards]
                )
            if activations:
                cursor.executemany(self.activate, activations)
        return failures

    def _rewards(self, cursor: Any, rewards: list[Write], failures: dict[int, Exception]) -> list[Write]:
        """Apply the rewards to their events; those whose event has slots fail (their update matched no
        row: only the rare short count costs a second look)."""
        cursor.executemany(
            self.reward,
            [
                (p["at"], p["value"], p["at"], p["value"], p["at"], p["id"])
                for p in (w.params for w in rewards)
            ],
        )
        if cursor.rowcount == len(rewards):
            return rewards
        ids = list({w.params["id"] for w in rewards})
        cursor.execute(
            "SELECT event_id FROM pz_events WHERE slots IS NOT NULL "
            f"AND event_id IN ({', '.join(['?'] * len(ids))})",
            ids,
        )
        slotted = {row[0] for row in cursor.fetchall()}
        for write in rewards:
            if write.params["id"] in slotted:
                failures[id(write)] = multislot_event(write.params["id"])
        return [w for w in rewards if w.params["id"] not in slotted]


class _PostgresBatch:
    """PostgreSQL: the whole batch is one call of `pz_write_batch` (write_batch.sql) on a connection in
    autocommit, so one round trip and one transaction; the function commits all of the batch or none."""

    call = "SELECT pz_write_batch(%s::jsonb, %s, %s, %s, %s)"

    def write(self, connection: Any, ranks: list[Write], updates: list[Write]) -> dict[int, Exception]:
        """Commit the batch; returns the per-write failures (unknown events)."""
        ordered, arguments = postgres_batch(ranks, updates)
        cursor = connection.cursor()
        try:
            cursor.execute(self.call, arguments)
            missing = cursor.fetchone()[0]
        finally:
            cursor.close()
        return unknown_events(ordered, missing)


class GroupCommitWriter:
    """Owns every write of the hot path. Thread-safe.

    Each `submit_*` call without a `waiter` commits in the calling thread and raises on failure; with one
    (an asyncio future of the caller's event loop) it queues the write for the writer thread and answers
    that future instead. With event_loops=False (PostgreSQL, whose event loops write through
    asyncpg_writer.py) no writer thread runs, and only thread callers may submit.
    """

    def __init__(self, engine: Engine, *, event_loops: bool = True, health: Health | None = None) -> None:
        self._engine = engine
        self._health = health or Health()
        self._closed = False
        dbapi = engine.dialect.dbapi
        if dbapi is None:
            raise RuntimeError(f"no DBAPI driver is loaded for {engine.dialect.name}")
        self._dbapi: Any = dbapi
        postgres = engine.dialect.name == "postgresql"
        self._batch: _SqliteBatch | _PostgresBatch = _PostgresBatch() if postgres else _SqliteBatch()
        self._own = Link(engine, autocommit=postgres)  # thread callers' connection, one batch at a time
        self._own_lock = threading.Lock()
        self._write_lock = write_lock(engine)
        self._queue: queue.SimpleQueue[Write | None] = queue.SimpleQueue()
        # One writer thread: while its batch is at the database the next one gathers, and a bigger batch
        # costs the database less per write. (When PostgreSQL's batches still went through this thread,
        # alternating 40 s load runs gave 2,694-2,894 req/s with one writer per process, 2,322-2,524 with two.)
        # Supervised: if the thread dies anyway (an exception escaping its loop), the batch it held is
        # answered at once, /healthz reports pz-writer, and the thread is started again a second later.
        self._stop = threading.Event()
        self._thread: Supervised | None = None
        if event_loops:
            link = Link(engine, autocommit=postgres)
            self._thread = Supervised("pz-writer", lambda: self._run(link), self._health, self._stop)
            self._thread.start()

    def submit_event(self, row: dict[str, Any], waiter: asyncio.Future[None] | None = None) -> None:
        """Log a ranked event; fails with InvalidRequest if its event ID is taken."""
        self._submit(Write("rank", row, waiter))

    def submit_reward(
        self, event_id: str, value: float, at: float, waiter: asyncio.Future[None] | None = None
    ) -> None:
        """Keep a reward; fails with EventNotFound for an unknown event."""
        self._submit(Write("reward", {"id": event_id, "value": value, "at": at}, waiter))

    def submit_activation(self, event_id: str, at: float, waiter: asyncio.Future[None] | None = None) -> None:
        """Record an activation; fails with EventNotFound for an unknown event."""
        self._submit(Write("activate", {"id": event_id, "at": at}, waiter))

    def close(self) -> None:
        """Finish what is queued, then stop the writer thread."""
        if not self._closed:
            self._closed = True
            if self._thread is not None:
                self._stop.set()
                self._queue.put(None)
                self._thread.join(timeout=30)
                abandon(self._left_in_queue())
            with self._own_lock:
                self._own.drop(invalidate=False)

    def _submit(self, write: Write) -> None:
        if self._closed:
            outcomes: list[tuple[Write, Exception | None]] = [
                (write, RankerUnavailable("the learner is shutting down"))
            ]
        elif write.waiter is None:
            # A thread that waits anyway commits its own write: no hand-off to the writer thread and
            # back, which is most of a synchronous rank's tail on a busy machine.
            with self._own_lock:
                outcomes = self._commit(self._own, [write])
        elif self._thread is None:
            raise RuntimeError("this writer takes no event loop's writes (see asyncpg_writer.py)")
        else:
            self._queue.put(write)
            return
        settle(outcomes)

    def _left_in_queue(self) -> list[Write]:
        left: list[Write] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return left
            if item is not None:
                left.append(item)

    def _run(self, link: Link) -> None:
        batch: list[Write] = []
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    return
                batch = [first]
                stop = False
                while len(batch) < MAX_BATCH:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:
                        stop = True
                        break
                    batch.append(item)
                try:
                    outcomes = self._commit(link, batch)
                except Exception:  # a bug must not leave callers waiting, nor stop the writes after them
                    logger.exception("the event log's batch failed")
                    link.drop(invalidate=True)
                    outcomes = not_written(batch)
                settle(outcomes)
                batch = []
                if stop:
                    return
        except BaseException as exc:
            # Dying anyway (the supervisor restarts the thread): reported first, so that a caller answered
            # 503 finds /healthz saying why; whoever waits on the batch in hand hears now, not at their
            # timeout, and what is still queued waits for the restart.
            self._health.failed("pz-writer", f"restarting after {type(exc).__name__}")
            link.drop(invalidate=True)
            abandon(batch)
            raise
        finally:
            link.drop(invalidate=False)

    def _commit(self, link: Link, batch: list[Write]) -> list[tuple[Write, Exception | None]]:
        """Commit a batch on this link; each write with its failure (None when it is durable)."""
        try:
            failures = self._write(link, batch)
        except (self._dbapi.IntegrityError, self._dbapi.DataError, *CONTENT_ERRORS) as exc:
            if len(batch) == 1:
                taken = isinstance(exc, self._dbapi.IntegrityError)
                return [(batch[0], taken_event_id() if taken else refused_alone(batch[0], exc))]
            # One write's content (a taken event ID, a value the database refuses) must not fail its
            # neighbours, and nothing was committed: retry each write on its own.
            return [outcome for write in batch for outcome in self._commit(link, [write])]
        except self._dbapi.Error as exc:
            fault = storage_fault(exc)
            logger.error("the event log could not be written: %s %s", type(exc).__name__, fault)
            self._health.failed("event log", f"writes fail: {fault or type(exc).__name__}")
            link.drop(invalidate=True)
            return not_written(batch, fault)
        self._health.recovered("event log")
        return [(write, failures.get(id(write))) for write in batch]

    def _write(self, link: Link, batch: list[Write]) -> dict[int, Exception]:
        """Write a batch in one transaction; returns the per-write failures (unknown events)."""
        connection = link.connect()
        ranks = [w for w in batch if w.kind == "rank"]
        updates = [w for w in batch if w.kind != "rank"]
        with self._write_lock():
            try:
                return self._batch.write(connection, ranks, updates)
            except BaseException:
                try:
                    connection.rollback()
                except self._dbapi.Error:
                    link.drop(invalidate=True)
                raise

"""Group commit: one writer thread per process batches ranks, rewards and activations into one transaction.

Callers get a Future that resolves only after the transaction that holds their write has committed, so
nothing is acknowledged before it is durable; many concurrent requests share one commit.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot.personalizer import store
from bot.personalizer.base import EventNotFound, InvalidRequest, RankerUnavailable

logger = logging.getLogger(__name__)
MAX_BATCH = 512


@dataclass
class _Write:
    kind: str  # "rank", "reward" or "activate"
    params: dict[str, Any]
    future: Future[None] = field(default_factory=Future)


class GroupCommitWriter:
    """Owns every write of the hot path; thread-safe `submit_*` methods return Futures."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._queue: queue.SimpleQueue[_Write | None] = queue.SimpleQueue()
        self._insert_event = store.insert_event_statement()
        self._reward = store.reward_statement()
        self._insert_reward = store.insert_reward_statement()
        self._activate = store.activate_statement()
        self._thread = threading.Thread(target=self._run, name="pz-writer", daemon=True)
        self._closed = False
        self._thread.start()

    def submit_event(self, row: dict[str, Any]) -> Future[None]:
        """Log a ranked event; fails with InvalidRequest if its event ID is taken."""
        return self._submit(_Write("rank", row))

    def submit_reward(self, event_id: str, value: float, at: float) -> Future[None]:
        """Keep a reward; fails with EventNotFound for an unknown event."""
        return self._submit(_Write("reward", {"id": event_id, "value": value, "at": at}))

    def submit_activation(self, event_id: str, at: float) -> Future[None]:
        """Record an activation; fails with EventNotFound for an unknown event."""
        return self._submit(_Write("activate", {"id": event_id, "at": at}))

    def close(self) -> None:
        """Finish what is queued, then stop the thread."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join(timeout=30)

    def _submit(self, write: _Write) -> Future[None]:
        if self._closed:
            write.future.set_exception(RankerUnavailable("the learner is shutting down"))
        else:
            self._queue.put(write)
        return write.future

    def _run(self) -> None:
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
            self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[_Write]) -> None:
        try:
            failures = self._write(batch)
        except IntegrityError:
            # One duplicate event ID must not fail its neighbours: retry each write on its own.
            for write in batch:
                self._commit_one(write)
            return
        except SQLAlchemyError as exc:
            logger.error("the event log could not be written: %s", type(exc).__name__)
            for write in batch:
                write.future.set_exception(RankerUnavailable("the event log could not be written"))
            return
        for write in batch:
            error = failures.get(id(write))
            if error is None:
                write.future.set_result(None)
            else:
                write.future.set_exception(error)

    def _commit_one(self, write: _Write) -> None:
        try:
            failures = self._write([write])
        except IntegrityError:
            write.future.set_exception(
                InvalidRequest("An event with this eventId was already ranked.", target="eventId")
            )
            return
        except SQLAlchemyError as exc:
            logger.error("the event log could not be written: %s", type(exc).__name__)
            write.future.set_exception(RankerUnavailable("the event log could not be written"))
            return
        error = failures.get(id(write))
        if error is None:
            write.future.set_result(None)
        else:
            write.future.set_exception(error)

    def _write(self, batch: list[_Write]) -> dict[int, Exception]:
        failures: dict[int, Exception] = {}
        ranks = [w.params for w in batch if w.kind == "rank"]
        kept_rewards: list[dict[str, Any]] = []
        with self._engine.begin() as conn:
            if ranks:
                conn.execute(self._insert_event, ranks)
            for write in batch:
                if write.kind == "reward":
                    if conn.execute(self._reward, write.params).rowcount != 1:
                        failures[id(write)] = EventNotFound(write.params["id"])
                    else:
                        kept_rewards.append(
                            {
                                "event_id": write.params["id"],
                                "value": write.params["value"],
                                "received_at": write.params["at"],
                            }
                        )
                elif write.kind == "activate":
                    if conn.execute(self._activate, write.params).rowcount != 1:
                        failures[id(write)] = EventNotFound(write.params["id"])
            if kept_rewards:
                conn.execute(self._insert_reward, kept_rewards)
        return failures

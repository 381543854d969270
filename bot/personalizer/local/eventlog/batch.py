"""What both writers share: a write, a batch's arguments for pz_write_batch, and how callers are answered."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

from bot.personalizer.base import EventNotFound, InvalidRequest, RankerUnavailable
from bot.personalizer.local import store

logger = logging.getLogger(__name__)
MAX_BATCH = 512
IDLE_PING = 1.0  # seconds: a connection unused this long is checked before use
EVENT_COLUMNS = [column.name for column in store.events.columns]


@dataclass
class Write:
    """One rank, reward or activation on its way to the database."""

    kind: str  # "rank", "reward" or "activate"
    params: dict[str, Any]
    waiter: asyncio.Future[None] | None = None  # an event loop's caller; None for a thread's own commit


def postgres_batch(ranks: list[Write], updates: list[Write]) -> tuple[list[Write], tuple[Any, ...]]:
    """The arguments of pz_write_batch for a batch, and its rewards and activations in the order it takes them:
    event ID order, which is stable, so one event's rewards keep the order they came in."""
    ordered = sorted(updates, key=lambda w: w.params["id"])
    arguments = (
        json.dumps([w.params for w in ranks]) if ranks else None,
        [w.kind for w in ordered],
        [w.params["id"] for w in ordered],
        [float(w.params.get("value", 0.0)) for w in ordered],
        [w.params["at"] for w in ordered],
    )
    return ordered, arguments


class EventIdTaken(InvalidRequest):
    """A rank whose event ID is already in the log: nothing was written."""


def taken_event_id() -> InvalidRequest:
    """The failure of a rank whose event ID is already in the log."""
    return EventIdTaken("An event with this eventId was already ranked.", target="eventId")


class StorageFault(RankerUnavailable):
    """The event log's storage refused a write (full, read-only); `client_message` may be shown to clients."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"the event log could not be written: {reason}")
        self.client_message = f"The event log could not be written: {reason}. Try again later."


def not_written(batch: list[Write], reason: str = "") -> list[tuple[Write, Exception | None]]:
    """The outcomes of a batch the database did not take (it may still have committed: never retried)."""
    if reason:
        return [(write, StorageFault(reason)) for write in batch]
    return [(write, RankerUnavailable("the event log could not be written")) for write in batch]


def storage_fault(exc: BaseException) -> str:
    """What a database error says about its storage, in words a client can act on ("" when nothing)."""
    text = str(exc).lower()
    if "full" in text or "no space" in text:
        return "its storage is full"
    if "readonly" in text or "read-only" in text or "read only" in text:
        return "its storage is read-only"
    if "disk i/o" in text or "i/o error" in text:
        return "its storage failed to write"
    return ""


# What a database or its driver raises for one write's own content (a value it cannot store), before
# anything is committed: that write fails alone, never its batch-mates (each is retried on its own).
CONTENT_ERRORS: tuple[type[Exception], ...] = (UnicodeError, OverflowError, ValueError)


def refused_alone(write: Write, exc: BaseException) -> Exception:
    """The failure of one write the database refused for its own content, not for the database's state."""
    logger.warning("a %s could not be stored: %s", write.kind, type(exc).__name__)
    return InvalidRequest("The request holds a value that cannot be stored.")


def unknown_events(ordered: list[Write], missing: list[int]) -> dict[int, Exception]:
    """pz_write_batch's answer (positions from 1 in `ordered`) as the per-write failures."""
    return {id(ordered[i - 1]): EventNotFound(ordered[i - 1].params["id"]) for i in missing}


def settle(outcomes: list[tuple[Write, Exception | None]]) -> None:
    """Answer each write's caller: raise a thread's own failure; wake each event loop once for its waiters."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[None], Exception | None]]] = {}
    for write, error in outcomes:
        if write.waiter is not None:
            by_loop.setdefault(write.waiter.get_loop(), []).append((write.waiter, error))
        elif error is not None:  # a thread's own write: only ever alone in its outcomes
            raise error
    for event_loop, waiters in by_loop.items():
        try:
            event_loop.call_soon_threadsafe(answer_waiters, waiters)
        except RuntimeError:  # that event loop is closed: nobody is waiting any more
            pass


def answer_waiters(waiters: list[tuple[asyncio.Future[None], Exception | None]]) -> None:
    """Settle each caller's future on its event loop, unless the caller gave up."""
    for waiter, error in waiters:
        if waiter.done():  # the caller gave up (timeout or cancellation)
            continue
        if error is None:
            waiter.set_result(None)
        else:
            waiter.set_exception(error)


def abandon(batch: list[Write]) -> None:
    """Answer every waiting caller of a batch that will not be written, even if settle() itself is broken."""
    for write in batch:
        if write.waiter is None:
            continue
        failure: Exception | None = RankerUnavailable("the event log's writer failed; try again")
        try:
            write.waiter.get_loop().call_soon_threadsafe(answer_waiters, [(write.waiter, failure)])
        except Exception:  # a closed event loop: nobody is waiting any more
            logger.debug("a caller's event loop is gone", exc_info=True)

"""What both writers share: a write, a batch's arguments for pz_write_batch, and how callers are answered."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from bot.personalizer.base import EventNotFound, InvalidRequest, RankerUnavailable
from bot.personalizer.local import store

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


def taken_event_id() -> InvalidRequest:
    """The failure of a rank whose event ID is already in the log."""
    return InvalidRequest("An event with this eventId was already ranked.", target="eventId")


def not_written(batch: list[Write]) -> list[tuple[Write, Exception | None]]:
    """The outcomes of a batch the database did not take (it may still have committed: never retried)."""
    return [(write, RankerUnavailable("the event log could not be written")) for write in batch]


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

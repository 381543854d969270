"""Multi-slot rewards in the event log: each slot's rewards kept by slot ID beside the event's own row."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import Engine, func, insert, select, update

from bot.personalizer.local.store import events, rewards


class NotMultiSlot(ValueError):
    """The event was ranked with one slot, or a slot ID is not one of its slots."""


def add_slot_rewards(
    engine: Engine,
    event_id: str,
    values: list[tuple[str, float]],
    at: float,
    lock: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext,
) -> bool:
    """Keep a multi-slot event's slot rewards in one transaction; False when the event is not logged.

    NotMultiSlot when the event has no slots or a slot ID is not one of them (nothing is kept). Rewards
    after the event's window are kept but change nothing. Once every slot has a reward in the window,
    `first_reward` is set (to their sum), so that under `earliest` the trainer's query sees the event as
    decided, as it sees a single-slot event with a reward. Two concurrent calls may each miss the other's
    slot: the event is then learned when its window closes, with the same rewards.
    """
    with lock(), engine.begin() as conn:
        row = conn.execute(
            select(events.c.slots, events.c.deadline).where(events.c.event_id == event_id).with_for_update()
        ).first()
        if row is None:
            return False
        if row.slots is None:
            raise NotMultiSlot(
                f"Event {event_id!r} was ranked without slots: reward it as a single-slot event."
            )
        slot_ids = {slot["id"] for slot in json.loads(row.slots)}
        for slot_id, _ in values:
            if slot_id not in slot_ids:
                raise NotMultiSlot(f"{slot_id!r} is not a slot of event {event_id!r}.")
        conn.execute(
            insert(rewards),
            [
                {"event_id": event_id, "slot_id": slot, "value": value, "received_at": at}
                for slot, value in values
            ],
        )
        if at <= row.deadline:
            received = conn.execute(
                select(rewards.c.slot_id, rewards.c.value).where(
                    rewards.c.event_id == event_id,
                    rewards.c.slot_id.is_not(None),
                    rewards.c.received_at <= row.deadline,
                )
            ).all()
            total = sum(float(value) for _, value in received)
            change: dict[str, Any] = {"reward_sum": total, "reward_count": len(received)}
            if {slot_id for slot_id, _ in received} >= slot_ids:
                change["first_reward"] = func.coalesce(events.c.first_reward, total)
            conn.execute(update(events).where(events.c.event_id == event_id).values(**change))
    return True


def slot_values(
    engine: Engine, rows: list[dict[str, Any]], aggregation: str, default: float
) -> dict[str, dict[str, float]]:
    """What each multi-slot event's slots learn: event ID → slot ID → reward (earliest or sum in the window,
    else the default reward)."""
    wanted = {row["event_id"]: row for row in rows if row.get("slots")}
    found: dict[str, dict[str, float]] = {
        event_id: {slot["id"]: default for slot in json.loads(row["slots"])}
        for event_id, row in wanted.items()
    }
    if not wanted:
        return found
    seen: set[tuple[str, str]] = set()
    with engine.connect() as conn:
        received = conn.execute(
            select(rewards.c.event_id, rewards.c.slot_id, rewards.c.value, rewards.c.received_at)
            .where(rewards.c.event_id.in_(list(wanted)), rewards.c.slot_id.is_not(None))
            .order_by(rewards.c.id)
        )
        for event_id, slot_id, value, at in received:
            slots = found[event_id]
            if at > wanted[event_id]["deadline"] or slot_id not in slots:
                continue
            key = (event_id, slot_id)
            if key not in seen:
                slots[slot_id] = float(value)
                seen.add(key)
            elif aggregation == "sum":
                slots[slot_id] += float(value)
    return found


def event_slots(engine: Engine, event_ids: list[str]) -> dict[str, set[str] | None]:
    """Each logged event's slot IDs (None for a single-slot event); events never logged are absent."""
    found: dict[str, set[str] | None] = {}
    unique = list(dict.fromkeys(event_ids))
    with engine.connect() as conn:
        for start in range(0, len(unique), 500):  # bounded IN lists, whatever the batch
            rows = conn.execute(
                select(events.c.event_id, events.c.slots).where(
                    events.c.event_id.in_(unique[start : start + 500])
                )
            )
            for event_id, slots in rows:
                found[event_id] = None if slots is None else {slot["id"] for slot in json.loads(slots)}
    return found

"""The logged events an evaluation reads: learned events in a date range, a page at a time.

Only learned events are read: an event ranked with deferActivation and never activated in its window is
settled as never learned, so no policy's estimate counts it, as the trainer never learned it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Engine, and_, func, or_, select

from bot.personalizer.local import store
from bot.personalizer.local.features import action_line, context_line, namespaces_line
from bot.personalizer.local.multislot import SLOT
from bot.personalizer.local.slot_store import slot_values

PAGE = 2000  # events in memory at once, whatever the range holds
CACHED_LINES = 4096


@dataclass(frozen=True)
class LoggedSlot:
    """One slot of a multi-slot event: its ID and features, the positions open to it, what was served."""

    id: str
    line: str
    open_to: tuple[int, ...]
    chosen: int
    probability: float
    baseline: int
    reward: float


@dataclass(frozen=True)
class LoggedEvent:
    """One learned event, featurized as the trainer sees it (action lines without the action's ID)."""

    event_id: str
    ranked_at: float
    shared: str
    action_ids: tuple[str, ...]
    action_lines: tuple[str, ...]
    chosen: int
    probability: float
    reward: float
    mode: str
    slots: tuple[LoggedSlot, ...] = ()  # a multi-slot event's slots, in the rank's order; () for one slot


def read_events(
    engine: Engine,
    start: float,
    end: float,
    limit: int | None = None,
    *,
    aggregation: str = "earliest",
    default_reward: float = 0.0,
) -> Iterator[LoggedEvent]:
    """Learned events ranked in [start, end), oldest first, read in pages (keyset, on the settled index).

    A multi-slot event's slots carry the rewards each slot was learned with (aggregation, default reward)."""
    after: tuple[float, str] | None = None
    served = 0
    columns = (
        store.events.c.event_id,
        store.events.c.ranked_at,
        store.events.c.context,
        store.events.c.actions,
        store.events.c.chosen_id,
        store.events.c.probability,
        store.events.c.learned_value,
        store.events.c.mode,
        store.events.c.slots,
        store.events.c.deadline,
    )
    while limit is None or served < limit:
        query = select(*columns).where(
            store.IS_SETTLED,
            store.events.c.state == store.LEARNED,
            store.events.c.ranked_at >= start,
            store.events.c.ranked_at < end,
        )
        if after is not None:
            query = query.where(
                or_(
                    store.events.c.ranked_at > after[0],
                    and_(store.events.c.ranked_at == after[0], store.events.c.event_id > after[1]),
                )
            )
        page = PAGE if limit is None else min(PAGE, limit - served)
        query = query.order_by(store.events.c.ranked_at, store.events.c.event_id).limit(page)
        with engine.connect() as conn:
            rows = conn.execute(query).all()
        multislot = [dict(row._mapping) for row in rows if row.slots]
        values = slot_values(engine, multislot, aggregation, default_reward) if multislot else {}
        for row in rows:
            event = _featurized(row, values.get(row.event_id))
            if event is not None:
                served += 1
                yield event
        if len(rows) < page:
            return
        after = (rows[-1].ranked_at, rows[-1].event_id)


def count_events(engine: Engine, start: float, end: float) -> int:
    """How many learned events an evaluation of [start, end) reads."""
    query = (
        select(func.count())
        .select_from(store.events)
        .where(
            store.IS_SETTLED,
            store.events.c.state == store.LEARNED,
            store.events.c.ranked_at >= start,
            store.events.c.ranked_at < end,
        )
    )
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def recent_start(engine: Engine, start: float, end: float, limit: int) -> float:
    """Where the newest `limit` learned events of [start, end) begin (start when there are fewer)."""
    e = store.events.c
    query = (
        select(e.ranked_at)
        .where(store.IS_SETTLED, e.state == store.LEARNED, e.ranked_at >= start, e.ranked_at < end)
        .order_by(e.ranked_at.desc())
        .offset(limit - 1)
        .limit(1)
    )
    with engine.connect() as conn:
        found = conn.execute(query).scalar()
    return start if found is None else max(start, float(found))


def _featurized(row: object, slot_rewards: dict[str, float] | None) -> LoggedEvent | None:
    mapping = row._mapping  # type: ignore[attr-defined]
    ids, lines = _actions(mapping["actions"])
    if mapping["chosen_id"] not in ids or mapping["learned_value"] is None or not mapping["probability"]:
        return None  # nothing an estimate can weigh
    slots: tuple[LoggedSlot, ...] = ()
    if mapping["slots"]:
        slots = _slots(mapping["slots"], slot_rewards or {}, len(ids))
        if not slots:
            return None
    return LoggedEvent(
        event_id=mapping["event_id"],
        ranked_at=float(mapping["ranked_at"]),
        shared=_shared(mapping["context"]),
        action_ids=ids,
        action_lines=lines,
        chosen=ids.index(mapping["chosen_id"]),
        probability=float(mapping["probability"]),
        reward=float(mapping["learned_value"]),
        mode=mapping["mode"],
        slots=slots,
    )


def _slots(slots_json: str, rewards: dict[str, float], actions: int) -> tuple[LoggedSlot, ...]:
    """The served slots of a multi-slot event; () when one cannot be weighed (no probability, bad index)."""
    out = []
    try:
        for slot in json.loads(slots_json):
            open_to = tuple(int(i) for i in slot["open_to"])
            chosen = int(slot["chosen"])
            if chosen not in open_to or not slot["probability"] or not all(0 <= i < actions for i in open_to):
                return ()
            out.append(
                LoggedSlot(
                    id=str(slot["id"]),
                    line=_slot_line(json.dumps(slot["features"])),
                    open_to=open_to,
                    chosen=chosen,
                    probability=float(slot["probability"]),
                    baseline=int(slot["baseline"]),
                    reward=float(rewards.get(slot["id"], 0.0)),
                )
            )
    except (KeyError, TypeError, ValueError):  # a record this engine did not write: skipped, not fatal
        return ()
    return tuple(out)


@functools.lru_cache(maxsize=CACHED_LINES)
def _slot_line(features_json: str) -> str:
    return namespaces_line(json.loads(features_json), SLOT, "slot")


# Logged events repeat the same contexts and menus: featurize each JSON text once.
@functools.lru_cache(maxsize=CACHED_LINES)
def _shared(context_json: str) -> str:
    return context_line(json.loads(context_json))


@functools.lru_cache(maxsize=CACHED_LINES)
def _actions(actions_json: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    actions = json.loads(actions_json)
    return tuple(a["id"] for a in actions), tuple(action_line(None, a["features"]) for a in actions)

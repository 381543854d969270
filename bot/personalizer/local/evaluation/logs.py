"""The logged events an evaluation reads: learned events in a date range, a page at a time."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Engine, and_, func, or_, select

from bot.personalizer.local import store
from bot.personalizer.local.features import action_line, context_line

PAGE = 2000  # events in memory at once, whatever the range holds
CACHED_LINES = 4096


@dataclass(frozen=True)
class LoggedEvent:
    """One learned event, featurized as the trainer sees it."""

    event_id: str
    ranked_at: float
    shared: str
    action_ids: tuple[str, ...]
    action_lines: tuple[str, ...]
    chosen: int
    probability: float
    reward: float
    mode: str


def read_events(engine: Engine, start: float, end: float, limit: int | None = None) -> Iterator[LoggedEvent]:
    """Learned events ranked in [start, end), oldest first, read in pages (keyset, on the settled index)."""
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
        for row in rows:
            event = _featurized(row)
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


def _featurized(row: object) -> LoggedEvent | None:
    mapping = row._mapping  # type: ignore[attr-defined]
    ids, lines = _actions(mapping["actions"])
    if mapping["chosen_id"] not in ids or mapping["learned_value"] is None or not mapping["probability"]:
        return None  # nothing an estimate can weigh
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
    )


# Logged events repeat the same contexts and menus: featurize each JSON text once.
@functools.lru_cache(maxsize=CACHED_LINES)
def _shared(context_json: str) -> str:
    return context_line(json.loads(context_json))


@functools.lru_cache(maxsize=CACHED_LINES)
def _actions(actions_json: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    actions = json.loads(actions_json)
    return tuple(a["id"] for a in actions), tuple(action_line(a["id"], a["features"]) for a in actions)

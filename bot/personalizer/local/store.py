# Over 300 lines on purpose: the loop's tables and every query on them, so that a column change is one file.
"""The learning loop's tables and queries (SQLAlchemy Core; SQLite or PostgreSQL). Knows nothing of Slack."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Engine,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Select,
    SmallInteger,
    String,
    Table,
    Text,
    and_,
    delete,
    func,
    insert,
    inspect,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError

from bot import db

PUBLISH_ATTEMPTS = 5

PENDING, LEARNED, NEVER_LEARNED = 0, 1, 2
MODELS_KEPT = 3
# PostgreSQL's server-side functions: the writer's batch, and the trainer's marks.
SQL = Path(__file__).with_name("sql")
FUNCTIONS = (SQL / "write_batch.sql", SQL / "mark_learned.sql")
SCHEMA_LOCK_KEY = 0x707A5F736368656D  # "pz_schem": an advisory lock while the functions are (re)created

metadata = MetaData()


events = Table(
    "pz_events",
    metadata,
    Column("event_id", String(256), primary_key=True),
    Column("ranked_at", Float, nullable=False),
    Column("deadline", Float, nullable=False),
    Column("context", Text, nullable=False),
    Column("actions", Text, nullable=False),
    Column("excluded", Text, nullable=False),
    Column("chosen_id", String(256), nullable=False),
    Column("probability", Float, nullable=False),
    Column("mode", String(16), nullable=False),
    Column("baseline_id", String(256), nullable=False),
    Column("model_choice_id", String(256)),
    Column("model_probability", Float),
    Column("deferred", Boolean, nullable=False, default=False),
    Column("activated_at", Float),
    Column("first_reward", Float),
    Column("reward_sum", Float, nullable=False, default=0.0),
    Column("reward_count", Integer, nullable=False, default=0),
    Column("state", SmallInteger, nullable=False, default=PENDING),
    Column("learned_value", Float),
    Column("learned_at", Float),
    Column("slots", Text),  # a multi-slot event's slots as JSON (multislot.slots_json); NULL for one slot
    # The log split by state, both halves in ranking order: the trainer's queue of pending events, and
    # the settled events that log retention deletes oldest first. Split, so the trainer's query never
    # walks the learned log (most of it), and PostgreSQL's planner has no other index to pick for it.
    Index(
        "ix_pz_events_pending",
        "ranked_at",
        "event_id",
        sqlite_where=text(f"state = {PENDING}"),
        postgresql_where=text(f"state = {PENDING}"),
    ),
    Index(
        "ix_pz_events_settled",
        "ranked_at",
        sqlite_where=text(f"state <> {PENDING}"),
        postgresql_where=text(f"state <> {PENDING}"),
    ),
    # Room on each page for an event's next versions (its rewards, then the trainer's mark): a reward that
    # finds room on its event's page is a HOT update, which adds no index entries. In one 60 s load run each,
    # 46% of the updates were HOT with it and 38% without; the load runs are in docs/service.md.
    postgresql_with={"fillfactor": 70},
)

# The indexes' conditions, written out (not bound parameters) so that the query planners can see that a
# query's condition matches an index's.
IS_PENDING = events.c.state == literal_column(str(PENDING))
IS_SETTLED = events.c.state != literal_column(str(PENDING))

rewards = Table(
    "pz_rewards",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(256), nullable=False, index=True),
    Column("value", Float, nullable=False),
    Column("received_at", Float, nullable=False),
    Column("slot_id", String(256)),  # the slot of a multi-slot reward; NULL for a single-slot reward
)
# Columns added after the first release: databases made before get them at start-up.
ADDED_COLUMNS = (("pz_events", "slots", "TEXT"), ("pz_rewards", "slot_id", "VARCHAR(256)"))

models = Table(
    "pz_models",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("created_at", Float, nullable=False),
    Column("lineage_created_at", Float, nullable=False),
    Column("policy", Text, nullable=False),
    Column("data", LargeBinary),
    Column("learned_events", Integer, nullable=False, default=0),
)

settings_table = Table(
    "pz_settings",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("data", Text, nullable=False),
    Column("updated_at", Float, nullable=False),
)


@dataclass(frozen=True)
class ModelRow:
    """A published model: version 0 means none was ever published."""

    version: int
    created_at: float
    lineage_created_at: float
    policy: str
    data: bytes | None
    learned_events: int


@dataclass(frozen=True)
class Outcome:
    """What the trainer decided for one event."""

    event_id: str
    state: int
    value: float | None


def create_tables(engine: Engine) -> None:
    """Create the loop's tables and indexes if they are missing; safe when several processes start together."""
    db.create_tables(metadata, engine)
    _add_columns(engine)
    with engine.begin() as conn:  # superseded by the two above; databases made before still have them
        conn.execute(text("DROP INDEX IF EXISTS ix_pz_events_state_deadline"))
        conn.execute(text("DROP INDEX IF EXISTS ix_pz_events_ranked_at"))
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            # Processes starting together take turns: concurrent CREATE OR REPLACE of a function can fail.
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
            for function in FUNCTIONS:
                conn.exec_driver_sql(function.read_text(encoding="utf-8"))


def _add_columns(engine: Engine) -> None:
    for table, column, kind in ADDED_COLUMNS:
        if column in {c["name"] for c in inspect(engine).get_columns(table)}:
            continue
        try:
            with engine.begin() as conn:
                conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {kind}"))
        except DBAPIError:  # another process added it first
            if column not in {c["name"] for c in inspect(engine).get_columns(table)}:
                raise


def ready_events(engine: Engine, now: float, aggregation: str, limit: int) -> list[dict[str, Any]]:
    """Pending events whose outcome is known: the window closed, or (earliest) a reward already decided it."""
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(ready_events_query(now, aggregation, limit))]


def ready_events_query(now: float, aggregation: str, limit: int) -> Select[Any]:
    """The trainer's query, oldest first; it walks ix_pz_events_pending, never the learned log."""
    closed = events.c.deadline < now
    if aggregation == "earliest":
        decided = and_(
            events.c.first_reward.is_not(None),
            or_(events.c.deferred.is_(False), events.c.activated_at.is_not(None)),
        )
        condition = or_(closed, decided)
    else:
        condition = closed
    return (
        select(events)
        .where(IS_PENDING, condition)
        .order_by(events.c.ranked_at, events.c.event_id)
        .limit(limit)
    )


def latest_model(engine: Engine) -> ModelRow | None:
    """The newest published model, or None."""
    with engine.connect() as conn:
        row = conn.execute(select(models).order_by(models.c.version.desc()).limit(1)).first()
    return None if row is None else ModelRow(**row._mapping)


def latest_model_version(engine: Engine) -> int:
    """The newest model version (0 when none); cheap enough to poll."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.coalesce(func.max(models.c.version), 0))).scalar_one())


def commit_training(
    engine: Engine,
    outcomes: list[Outcome],
    model: ModelRow,
    now: float,
    lock: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext,
) -> None:
    """Mark events learned and publish `model` in one transaction, holding `lock` for the transaction only.

    Raises IntegrityError when another writer already published `model.version`: then nothing is marked.
    The statements go to the driver as written, their parameters built before the lock is taken: SQLite's
    write lock is held for the SQL alone (1.2 ms per 100 events, against 2.5-2.9 ms through SQLAlchemy's
    per-row parameter processing).
    """
    mark = db.driver_mark(engine)
    ordered = sorted(outcomes, key=lambda o: o.event_id)  # as the service's writers lock rows: no deadlock
    columns = list(model.__dict__)
    published = tuple(model.__dict__.values())
    with engine.connect() as conn, lock():
        if ordered and engine.dialect.name == "postgresql":  # one call of pz_mark_learned (mark_learned.sql)
            conn.exec_driver_sql(
                "SELECT pz_mark_learned(%s::text[], %s::smallint[], %s::float8[], %s::float8)",
                ([o.event_id for o in ordered], [o.state for o in ordered], [o.value for o in ordered], now),
            )
        elif ordered:
            conn.exec_driver_sql(
                f"UPDATE pz_events SET state = {mark}, learned_value = {mark}, learned_at = {mark} "
                f"WHERE event_id = {mark} AND state = {PENDING}",
                [(o.state, o.value, now, o.event_id) for o in ordered],
            )
        conn.exec_driver_sql(
            f"INSERT INTO pz_models ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})",
            published,
        )
        conn.exec_driver_sql(f"DELETE FROM pz_models WHERE version <= {mark}", (model.version - MODELS_KEPT,))
        conn.commit()


def publish_model(
    engine: Engine, policy: str, data: bytes | None, now: float, lineage_created_at: float
) -> int:
    """Publish a model outside training (import, reset, policy change); returns its version.

    The trainer (of this or another process) may take the next version at the same moment: then the
    insert fails whole and is tried again with the version after it.
    """
    for attempt in range(PUBLISH_ATTEMPTS):
        try:
            with engine.begin() as conn:
                latest = conn.execute(select(func.coalesce(func.max(models.c.version), 0))).scalar_one()
                version = int(latest) + 1
                conn.execute(
                    insert(models).values(
                        version=version,
                        created_at=now,
                        lineage_created_at=lineage_created_at,
                        policy=policy,
                        data=data,
                        learned_events=0,
                    )
                )
            return version
        except IntegrityError:
            if attempt == PUBLISH_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def load_settings(engine: Engine) -> dict[str, Any] | None:
    """The stored service configuration, or None before the first start."""
    with engine.connect() as conn:
        data = conn.execute(select(settings_table.c.data).where(settings_table.c.name == "service")).scalar()
    return None if data is None else json.loads(data)


def save_settings(engine: Engine, data: dict[str, Any], now: float) -> None:
    """Store the service configuration (insert or replace)."""
    change = update(settings_table).where(settings_table.c.name == "service")
    with engine.begin() as conn:
        if conn.execute(change.values(data=json.dumps(data), updated_at=now)).rowcount:
            return
    try:
        with engine.begin() as conn:
            conn.execute(insert(settings_table).values(name="service", data=json.dumps(data), updated_at=now))
    except IntegrityError:  # another process inserted it first: update theirs
        with engine.begin() as conn:
            conn.execute(change.values(data=json.dumps(data), updated_at=now))


def get_event(engine: Engine, event_id: str) -> dict[str, Any] | None:
    """One logged event, or None."""
    with engine.connect() as conn:
        row = conn.execute(select(events).where(events.c.event_id == event_id)).first()
    return None if row is None else dict(row._mapping)


def event_rewards(engine: Engine, event_id: str) -> list[tuple[float, float]]:
    """Every reward received for an event, late ones included: (value, received_at)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(rewards.c.value, rewards.c.received_at)
            .where(rewards.c.event_id == event_id)
            .order_by(rewards.c.id)
        )
        return [(float(v), float(t)) for v, t in rows]


def count_events(engine: Engine, state: int | None = None) -> int:
    """How many events are logged (in one state, if given)."""
    query = select(func.count()).select_from(events)
    if state is not None:
        query = query.where(events.c.state == state)
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def oldest_event_time(engine: Engine) -> float | None:
    """When the oldest logged event was ranked, or None."""
    with engine.connect() as conn:
        # One minimum per index: a min() over the whole table would read all of it.
        oldest = [
            conn.execute(select(func.min(events.c.ranked_at)).where(state)).scalar()
            for state in (IS_PENDING, IS_SETTLED)
        ]
    return min((t for t in oldest if t is not None), default=None)


def delete_events(engine: Engine, before: float | None = None) -> int:
    """Delete logged events (all, or settled ones ranked before `before`) and their rewards."""
    with engine.begin() as conn:
        doomed = select(events.c.event_id)
        if before is not None:
            doomed = doomed.where(events.c.ranked_at < before, IS_SETTLED)
        conn.execute(delete(rewards).where(rewards.c.event_id.in_(doomed.scalar_subquery())))
        return conn.execute(delete(events).where(events.c.event_id.in_(doomed.scalar_subquery()))).rowcount

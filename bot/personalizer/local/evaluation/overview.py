"""What the dashboard shows of the log: reward over time (online beside baseline), counts, model versions."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, case, func, select

from bot.personalizer.local import store
from bot.personalizer.local.evaluation.logs import read_events, recent_start
from bot.personalizer.local.evaluation.offpolicy import Series


@dataclass(frozen=True)
class LogCounts:
    """How many events the log holds, by state, and how many rewards arrived."""

    pending: int
    learned: int
    never_learned: int
    rewards: int
    oldest: float | None
    newest: float | None


@dataclass(frozen=True)
class ModelVersion:
    """One published model still kept."""

    version: int
    created_at: float
    policy: str
    learned_events: int
    empty: bool


def log_counts(engine: Engine) -> LogCounts:
    """Event counts by state, reward count and the log's time span."""
    state = store.events.c.state
    with engine.connect() as conn:
        row = conn.execute(
            select(
                func.sum(case((state == store.PENDING, 1), else_=0)),
                func.sum(case((state == store.LEARNED, 1), else_=0)),
                func.sum(case((state == store.NEVER_LEARNED, 1), else_=0)),
                func.min(store.events.c.ranked_at),
                func.max(store.events.c.ranked_at),
            )
        ).one()
        rewards = conn.execute(select(func.count()).select_from(store.rewards)).scalar_one()
    return LogCounts(int(row[0] or 0), int(row[1] or 0), int(row[2] or 0), int(rewards), row[3], row[4])


def model_versions(engine: Engine) -> list[ModelVersion]:
    """The published models the store keeps, newest first."""
    m = store.models.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(m.version, m.created_at, m.policy, m.learned_events, m.data.is_(None)).order_by(
                m.version.desc()
            )
        ).all()
    return [ModelVersion(int(r[0]), float(r[1]), str(r[2]), int(r[3]), bool(r[4])) for r in rows]


def reward_over_time(engine: Engine, start: float, end: float, limit: int = 50_000) -> tuple[Series, Series]:
    """The online policy's reward (what it earned) and the baseline's (IPS), in 5-minute sums.

    Reads at most `limit` of the newest learned events of the range (the dashboard's cost is bounded).
    """
    online, baseline = Series(300), Series(300)
    for event in read_events(engine, recent_start(engine, start, end, limit), end):
        online.add(event.ranked_at, event.probability, event.reward, event.probability)
        baseline.add(event.ranked_at, event.probability, event.reward, 1.0 if event.chosen == 0 else 0.0)
    return online, baseline

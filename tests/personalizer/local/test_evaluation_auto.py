"""Auto-optimization: every period, discovery on the recent log; a new policy only when its bound says so."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from fake_clock import Clock

from bench.evaluation_world import log_events
from bot.db import create_database_engine
from bot.personalizer.local import store
from bot.personalizer.local.evaluation import AUTO, EVALUATION, Evaluations, Series, estimate
from bot.personalizer.local.settings import LoopSettings

DAY = 86400.0
NO_INTERACTIONS = "--cb_explore_adf --cb_type mtr"  # cannot tell people apart: a poor policy for this world


@dataclasses.dataclass(frozen=True)
class Settings:
    """What evaluations read of a loop's settings (LoopSettings' names, as the service keeps them)."""

    policy: str
    auto_optimization_enabled: bool = True
    auto_optimization_frequency: float = DAY
    auto_optimization_start_date: float | None = None
    exploration_percentage: float = LoopSettings().exploration_percentage


class Loop:
    """A loop's settings with auto-optimization on, and the policy changes made to it."""

    def __init__(self, policy: str, enabled: bool = True, start_date: float | None = None) -> None:
        self.settings = Settings(policy, enabled, DAY, start_date)
        self.applied: list[str] = []

    def set_policy(self, arguments: str) -> None:
        self.settings = dataclasses.replace(self.settings, policy=arguments)
        self.applied.append(arguments)


@pytest.fixture
def engine(tmp_path: Path):
    engine = create_database_engine(f"sqlite:///{tmp_path / 'log.db'}")
    store.create_tables(engine)
    yield engine
    engine.dispose()


def run_auto(engine, loop: Loop, now: float) -> dict:
    evaluations = Evaluations(engine, loop, clock=Clock(now), in_process=True)
    job = evaluations.schedule_auto_optimization()
    assert job is not None and job.evaluation_type == AUTO
    assert evaluations.run_pending()
    finished = evaluations.get(EVALUATION, job.id)
    assert finished.result is not None
    return finished.result


def bound_and_online(result: dict) -> tuple[float, float, float]:
    """(best candidate's lower bound, its expected reward, online's expected reward)."""
    estimates = {
        p["name"]: (p["source"], estimate(Series.from_dict(p["series"]).total)) for p in result["policies"]
    }
    online = estimates["online"][1].expected_reward
    candidates = [e for source, e in estimates.values() if source in ("Custom", "OfflineExperimentation")]
    best = max(candidates, key=lambda e: e.expected_reward)
    return best.low, best.expected_reward, online


def test_a_policy_whose_lower_bound_beats_the_online_one_is_applied(engine) -> None:
    start, end = log_events(engine, 3000, seed=21, start=1_700_000_000.0, step=20.0)  # 16.7 hours
    loop = Loop(NO_INTERACTIONS)
    result = run_auto(engine, loop, now=end)
    low, _, online = bound_and_online(result)
    assert low > online  # the bound says: better
    decision = result["decision"]
    assert decision["applied"] is True and decision["from"] == NO_INTERACTIONS
    assert loop.applied == [decision["to"]] and loop.settings.policy == decision["to"]
    assert decision["to"] != NO_INTERACTIONS


def test_nothing_changes_where_no_policy_can_do_better(engine) -> None:
    start, end = log_events(engine, 3000, seed=22, step=20.0, flat=True)  # every dish as good as another
    loop = Loop(NO_INTERACTIONS)
    result = run_auto(engine, loop, now=end)
    low, _, online = bound_and_online(result)
    assert low <= online
    assert result["decision"]["applied"] is False and "kept the online policy" in result["decision"]["reason"]
    assert loop.applied == [] and loop.settings.policy == NO_INTERACTIONS


def test_a_better_looking_policy_on_too_few_events_is_not_applied(engine) -> None:
    start, end = log_events(engine, 80, seed=23, step=600.0)  # 80 events in 13 hours: wide intervals
    loop = Loop(NO_INTERACTIONS)
    result = run_auto(engine, loop, now=end)
    low, expected, online = bound_and_online(result)
    assert expected > online  # it looks better ...
    assert low <= online  # ... but its bound does not say so
    assert result["decision"]["applied"] is False
    assert loop.applied == []


def test_auto_optimization_runs_once_a_period_and_only_when_enabled_and_started(engine) -> None:
    log_events(engine, 50, seed=24)
    now = 1_700_100_000.0
    off = Evaluations(engine, Loop(NO_INTERACTIONS, enabled=False), clock=Clock(now), in_process=True)
    assert off.schedule_auto_optimization() is None
    later = Evaluations(
        engine, Loop(NO_INTERACTIONS, start_date=now + DAY), clock=Clock(now), in_process=True
    )
    assert later.schedule_auto_optimization() is None
    on = Evaluations(engine, Loop(NO_INTERACTIONS), clock=Clock(now), in_process=True)
    first = on.schedule_auto_optimization()
    assert first is not None and first.end_time - first.start_time == DAY
    assert on.schedule_auto_optimization() is None  # the same period: already submitted
    other_process = Evaluations(engine, Loop(NO_INTERACTIONS), clock=Clock(now + 60), in_process=True)
    assert other_process.schedule_auto_optimization() is None  # its ID is the period's: no second run
    assert [j.id for j in on.list_jobs(EVALUATION)] == [first.id]

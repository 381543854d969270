"""Offline evaluation on logged events: estimates, time series, discovery and the optimal policy."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import insert

from bench.evaluation_world import LIKED, OTHER, log_events
from bot.db import create_database_engine
from bot.personalizer.local import store
from bot.personalizer.local.evaluation import EVALUATION, FAILED, SUCCEEDED, Evaluations, Series, estimate
from bot.personalizer.local.evaluation import jobs as job_table
from bot.personalizer.local.evaluation.discovery import SPACE

ONLINE = "--cb_explore_adf -q CA --interactions CCA --synthcover"


class FixedLoop:
    """The two things evaluations ask of a loop: its settings and a way to set its policy."""

    def __init__(self, policy: str = ONLINE) -> None:
        from bot.personalizer.local.settings import LoopSettings

        self.settings = LoopSettings(policy=policy)
        self.applied: list[str] = []

    def set_policy(self, arguments: str) -> None:
        import dataclasses

        self.settings = dataclasses.replace(self.settings, policy=arguments)
        self.applied.append(arguments)


@pytest.fixture
def engine(database_url: str):
    """The loop's tables on a fresh database: SQLite, and PostgreSQL when TEST_DATABASE_URL is set."""
    engine = create_database_engine(database_url)
    store.create_tables(engine)
    yield engine
    engine.dispose()


def summaries(job: job_table.Job) -> dict[str, tuple[str, object]]:
    assert job.result is not None
    return {
        p["name"]: (p["source"], estimate(Series.from_dict(p["series"]).total))
        for p in job.result["policies"]
    }


def test_estimates_are_ips_with_a_gaussian_interval_on_a_log_worked_by_hand(engine) -> None:
    # Four events, uniform over two dishes (p = 0.5): the baseline took pasta twice, once rewarded.
    rows = []
    for index, (chosen, reward) in enumerate(
        [("pasta", 1.0), ("pasta", 0.0), ("ramen", 1.0), ("ramen", 1.0)]
    ):
        rows.append(
            {
                "event_id": f"e{index}",
                "ranked_at": 1000.0 + index,
                "deadline": 2000.0,
                "context": json.dumps([{"user": "ana"}]),
                "actions": json.dumps([{"id": "pasta", "features": []}, {"id": "ramen", "features": []}]),
                "excluded": "[]",
                "chosen_id": chosen,
                "probability": 0.5,
                "mode": "Online",
                "baseline_id": "pasta",
                "deferred": False,
                "reward_sum": reward,
                "reward_count": 1,
                "state": store.LEARNED,
                "learned_value": reward,
            }
        )
    with engine.begin() as conn:
        conn.execute(insert(store.events), rows)
    evaluations = Evaluations(engine, FixedLoop(), in_process=True)
    evaluations.submit_evaluation("hand", "by hand", 0.0, 5000.0, [], False)
    assert evaluations.run_pending()
    result = summaries(evaluations.get(EVALUATION, "hand"))
    online, baseline, uniform = result["online"][1], result["baseline1"][1], result["baselineRand"][1]
    assert online.expected_reward == pytest.approx(0.75)  # the rewards it earned: weight 1
    assert uniform.expected_reward == pytest.approx(0.75)  # uniform is the logging policy here
    # baseline: weights 2, 2, 0, 0 on rewards 1, 0, 1, 1 → IPS (2 + 0) / 4 = 0.5
    assert baseline.expected_reward == pytest.approx(0.5)
    # Gaussian: weighted rewards 2, 0, 0, 0 → sample variance 1, half-width 1.96 · sqrt(1 / 4)
    assert baseline.low == pytest.approx(0.5 - 1.959964 * 0.5, abs=1e-5)
    assert baseline.high == pytest.approx(0.5 + 1.959964 * 0.5, abs=1e-5)
    assert baseline.snips == pytest.approx(0.5)


def test_an_evaluation_ranks_the_policies_that_learn_the_world_above_the_logged_one(engine) -> None:
    start, end = log_events(engine, 3000, seed=3)
    evaluations = Evaluations(engine, FixedLoop("--cb_explore_adf --cb_type mtr"), in_process=True)
    evaluations.submit_evaluation(
        "e1", "world", start, end, [("context x action", "--cb_explore_adf -q CA --cb_type mtr")], True
    )
    evaluations.run_pending()
    job = evaluations.get(EVALUATION, "e1")
    assert job.status == SUCCEEDED and job.progress == 1.0
    result = summaries(job)
    sources = {name: source for name, (source, _) in result.items()}
    assert sources["online"] == "Online" and sources["baseline1"] == "Baseline"
    assert sources["baselineRand"] == "Random" and sources["context x action"] == "Custom"
    discovered = [name for name, source in sources.items() if source == "OfflineExperimentation"]
    # The grid's points, less the one equal to the custom policy (same options in another order).
    assert len(discovered) == len(SPACE) - 1
    # The log explored uniformly: the online estimate is the log's mean reward, about what random earns.
    chance = (2 / 10) * LIKED + (8 / 10) * OTHER  # pasta is liked in 2 of the 10 (person, time) pairs
    baseline = result["baseline1"][1]
    assert baseline.low <= chance <= baseline.high
    best_name = job.result["optimalPolicy"]
    best = result[best_name][1]
    assert sources[best_name] in ("Custom", "OfflineExperimentation")
    assert best.low > result["online"][1].expected_reward
    assert best.expected_reward > 0.6  # the liked dish pays 0.8: learned well within 3000 events
    assert result[best_name][1].count == 3000


def test_the_time_series_grows_by_interval_and_ends_at_the_summary(engine) -> None:
    start, end = log_events(engine, 600, seed=4, step=6.0)  # one hour, 100 events per 10 minutes
    evaluations = Evaluations(engine, FixedLoop(), in_process=True)
    evaluations.submit_evaluation("e2", "series", start, end, [], False)
    evaluations.run_pending()
    job = evaluations.get(EVALUATION, "e2")
    assert job.result is not None
    series = Series.from_dict(job.result["policies"][0]["series"])
    expanding = series.points(600)
    assert [t % 600 for t, _ in expanding] == [0] * len(expanding)
    assert len(expanding) in (6, 7)  # the hour, cut into 10-minute intervals
    assert [e.count for _, e in expanding] == sorted(e.count for _, e in expanding)
    assert expanding[-1][1] == estimate(series.total)
    rolling = series.points(600, rolling=True)
    assert sum(e.count for _, e in rolling) == 600
    assert len(series.points(300)) >= len(expanding)


def test_only_one_job_runs_at_a_time_and_a_dead_worker_fails_its_job(engine) -> None:
    evaluations = Evaluations(engine, FixedLoop(), in_process=True)
    evaluations.submit_evaluation("a", "a", 0.0, 10.0, [], False)
    evaluations.submit_evaluation("b", "b", 0.0, 10.0, [], False)
    assert job_table.claim_next(engine, now=100.0) == ("a", EVALUATION)
    assert job_table.claim_next(engine, now=101.0) is None  # a is running somewhere
    assert job_table.claim_next(engine, now=100.0 + job_table.STALE_SECONDS + 1) is None  # a is failed
    assert job_table.claim_next(engine, now=100.0 + job_table.STALE_SECONDS + 2) == ("b", EVALUATION)
    failed = evaluations.get(EVALUATION, "a")
    assert failed.status == FAILED and "stopped reporting" in (failed.message or "")


def test_custom_policies_are_checked_before_anything_runs(engine) -> None:
    evaluations = Evaluations(engine, FixedLoop(), in_process=True)
    with pytest.raises(ValueError, match="cb_explore_adf"):
        evaluations.submit_evaluation("x", "x", 0.0, 10.0, [("bad", "--cb_adf")], False)
    with pytest.raises(ValueError, match="not a learning option"):
        evaluations.submit_evaluation(
            "y", "y", 0.0, 10.0, [("bad", "--cb_explore_adf -d /etc/passwd")], False
        )
    with pytest.raises(ValueError, match="after"):
        evaluations.submit_evaluation("z", "z", 10.0, 10.0, [], False)
    assert evaluations.list_jobs(EVALUATION) == []


def test_a_job_runs_in_its_own_low_priority_worker_process(engine) -> None:
    start, end = log_events(engine, 300, seed=5)
    evaluations = Evaluations(engine, FixedLoop())  # a worker process runs the job, on the same database
    evaluations.submit_evaluation("w", "worker", start, end, [], False)
    assert evaluations.run_pending()
    job = evaluations.get(EVALUATION, "w")
    assert job.status == SUCCEEDED, job.message
    assert summaries(job)["online"][1].count == 300


def test_applying_an_evaluated_policy_sets_it_and_reference_points_are_refused(engine) -> None:
    start, end = log_events(engine, 200, seed=6)
    loop = FixedLoop()
    evaluations = Evaluations(engine, loop, in_process=True)
    evaluations.submit_evaluation("p", "apply", start, end, [("mine", "--cb_explore_adf -q CA")], False)
    evaluations.run_pending()
    assert evaluations.apply("p", "mine") == "--cb_explore_adf -q CA"
    assert loop.applied == ["--cb_explore_adf -q CA"]
    with pytest.raises(ValueError, match="reference point"):
        evaluations.apply("p", "baseline1")
    with pytest.raises(ValueError, match="no policy named"):
        evaluations.apply("p", "nobody")


def test_a_candidate_sees_the_actions_ids_only_if_its_policy_asks_for_them(engine) -> None:
    # Two featureless dishes drawn uniformly; only pasta is ever liked: only the dish's ID tells them apart.
    world = [("pasta", 1.0) if i % 4 < 2 else ("ramen", 0.0) for i in range(800)]
    rows = [
        {
            "event_id": f"i{index:04d}",
            "ranked_at": 1000.0 + index,
            "deadline": 5000.0,
            "context": json.dumps([{"user": "ana"}]),
            "actions": json.dumps([{"id": "ramen", "features": []}, {"id": "pasta", "features": []}]),
            "excluded": "[]",
            "chosen_id": chosen,
            "probability": 0.5,
            "mode": "Online",
            "baseline_id": "ramen",
            "deferred": False,
            "reward_sum": reward,
            "reward_count": 1,
            "state": store.LEARNED,
            "learned_value": reward,
        }
        for index, (chosen, reward) in enumerate(world)
    ]
    with engine.begin() as conn:
        conn.execute(insert(store.events), rows)
    evaluations = Evaluations(engine, FixedLoop(), in_process=True)
    blind, sighted = "--cb_explore_adf -q CA", "--cb_explore_adf -q CA --action_id_feature"
    evaluations.submit_evaluation("ids", "ids", 0.0, 5000.0, [("blind", blind), ("sighted", sighted)], False)
    evaluations.run_pending()
    result = summaries(evaluations.get(EVALUATION, "ids"))
    assert result["blind"][1].high < 0.6  # it cannot tell pasta from ramen: about the log's 0.5
    assert result["sighted"][1].low > 0.7  # pasta, learned by its ID (exploration 0.2 keeps 0.1 on ramen)


def test_a_multislot_record_it_cannot_read_is_skipped_not_fatal(engine) -> None:
    row = {
        "event_id": "broken",
        "ranked_at": 1000.0,
        "deadline": 2000.0,
        "context": json.dumps([{"user": "ana"}]),
        "actions": json.dumps([{"id": "pasta", "features": []}, {"id": "ramen", "features": []}]),
        "excluded": "[]",
        "chosen_id": "pasta",
        "probability": 0.5,
        "mode": "Online",
        "baseline_id": "pasta",
        "deferred": False,
        "reward_sum": 1.0,
        "reward_count": 1,
        "state": store.LEARNED,
        "learned_value": 1.0,
        "slots": json.dumps([{"id": "top", "chosen": 0}]),  # no probability, no open positions
    }
    with engine.begin() as conn:
        conn.execute(insert(store.events), [row, {**row, "event_id": "fine", "slots": None}])
    evaluations = Evaluations(engine, FixedLoop(), in_process=True)
    evaluations.submit_evaluation("b", "broken", 0.0, 5000.0, [], False)
    evaluations.run_pending()
    job = evaluations.get(EVALUATION, "b")
    assert job.status == SUCCEEDED, job.message
    assert summaries(job)["online"][1].count == 1

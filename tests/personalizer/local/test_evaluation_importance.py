"""Feature importance: the features this world's rewards depend on score above the ones they do not."""

from __future__ import annotations

from pathlib import Path

from bench.evaluation_world import log_events
from bot.db import create_database_engine
from bot.personalizer.local import store
from bot.personalizer.local.evaluation import FEATURE_IMPORTANCE, SUCCEEDED, Evaluations
from bot.personalizer.local.evaluation.importance import features_of, without
from bot.personalizer.local.settings import LoopSettings


class Loop:
    settings = LoopSettings()

    def set_policy(self, arguments: str) -> None:
        raise AssertionError("feature importance changes nothing")


def test_features_are_read_from_and_removed_from_vw_lines() -> None:
    line = "shared |C user=ana time_of_day=noon |Cprofile age:31 tags[0]:1 tags[1]:0"
    assert features_of(line) == [
        ("C", "user"),
        ("C", "time_of_day"),
        ("Cprofile", "age"),
        ("Cprofile", "tags"),
        ("Cprofile", "tags"),
    ]
    assert (
        without(line, "Cprofile", "tags").split()
        == "shared |C user=ana time_of_day=noon |Cprofile age:31".split()
    )
    assert (
        without(line, "C", "user").split()
        == "shared |C time_of_day=noon |Cprofile age:31 tags[0]:1 tags[1]:0".split()
    )


def test_the_person_and_the_time_matter_and_the_noise_does_not(tmp_path: Path) -> None:
    engine = create_database_engine(f"sqlite:///{tmp_path / 'log.db'}")
    store.create_tables(engine)
    start, end = log_events(engine, 3000, seed=41)
    evaluations = Evaluations(engine, Loop(), in_process=True)
    evaluations.submit_feature_importance("fi", "features", start, end)
    evaluations.run_pending()
    job = evaluations.get(FEATURE_IMPORTANCE, "fi")
    assert job.status == SUCCEEDED and job.result is not None
    scores = {(s["namespace"], s["featureName"]): s["score"] for s in job.result["featureScores"]}
    assert set(scores) == {
        ("context", "user"),
        ("context", "time_of_day"),
        ("action", "cuisine"),
        ("action", "noise"),
    }
    assert max(scores.values()) == 1.0
    assert scores[("context", "user")] > scores[("action", "noise")] + 0.3
    assert scores[("context", "time_of_day")] > scores[("action", "noise")] + 0.2
    assert [s["score"] for s in job.result["featureScores"]] == sorted(scores.values(), reverse=True)
    engine.dispose()


def test_an_empty_range_scores_nothing(tmp_path: Path) -> None:
    engine = create_database_engine(f"sqlite:///{tmp_path / 'log.db'}")
    store.create_tables(engine)
    evaluations = Evaluations(engine, Loop(), in_process=True)
    evaluations.submit_feature_importance("none", "none", 0.0, 10.0)
    evaluations.run_pending()
    job = evaluations.get(FEATURE_IMPORTANCE, "none")
    assert job.status == SUCCEEDED and job.result == {"events": 0, "featureScores": []}
    engine.dispose()

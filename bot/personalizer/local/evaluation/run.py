"""Run one stored job to its end: read the log, replay or score features, store the result."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from bot.personalizer.local.evaluation import jobs
from bot.personalizer.local.evaluation.decision import decide
from bot.personalizer.local.evaluation.discovery import discovered
from bot.personalizer.local.evaluation.importance import MAX_EVENTS, score_features
from bot.personalizer.local.evaluation.logs import count_events, read_events, recent_start
from bot.personalizer.local.evaluation.offpolicy import estimate
from bot.personalizer.local.evaluation.replay import (
    BASELINE,
    CUSTOM,
    ONLINE,
    RANDOM,
    Candidate,
    multislot_arguments,
    replay_slots,
)
from bot.personalizer.local.policy import is_multislot

logger = logging.getLogger(__name__)
REPORT_EVERY = 1.0  # seconds between progress reports


def run_job(engine: Engine, kind: str, job_id: str, clock: Callable[[], float] = time.time) -> None:
    """Compute a claimed job and store its result, or its failure with the reason."""
    job = jobs.get(engine, kind, job_id)
    if job is None:
        return
    last = [0.0]

    def progress(fraction: float) -> None:
        now = clock()
        if now - last[0] >= REPORT_EVERY:
            last[0] = now
            jobs.report(engine, kind, job_id, min(0.99, fraction), now)

    try:
        if kind == jobs.EVALUATION:
            result = _evaluate(engine, job, progress)
        else:
            result = _importances(engine, job, progress)
    except Exception as exc:  # a failed job reports why; the service carries on
        logger.exception("%s %s failed", kind, job_id)
        jobs.finish(engine, kind, job_id, clock(), None, f"{type(exc).__name__}: {exc}")
        return
    jobs.finish(engine, kind, job_id, clock(), result)


def candidates_for(job: jobs.Job) -> list[Candidate]:
    """Online, baseline, random, the custom policies sent, and (if asked) discovered ones."""
    request = job.request
    out = [
        Candidate("online", ONLINE, request["online_policy"]),
        Candidate("baseline1", BASELINE),
        Candidate("baselineRand", RANDOM),
    ]
    custom = [Candidate(p["name"], CUSTOM, p["arguments"]) for p in request.get("policies", [])]
    out += custom
    if request.get("discover"):
        found = discovered(request["online_policy"], [c.arguments for c in custom])
        if is_multislot(request["online_policy"]):  # a multi-slot loop applies only CCB policies
            found = [dataclasses.replace(c, arguments=multislot_arguments(c.arguments)) for c in found]
        out += found
    return out


def _evaluate(engine: Engine, job: jobs.Job, progress: Callable[[float], None]) -> dict[str, object]:
    total = max(1, count_events(engine, job.start_time, job.end_time))
    candidates = candidates_for(job)
    events = read_events(engine, job.start_time, job.end_time, **_rewards(job))
    played = replay_slots(
        events, candidates, float(job.request["exploration"]), progress=lambda n: progress(n / total)
    )
    estimates = [(c.name, c.source, estimate(p.total.total)) for c, p in zip(candidates, played, strict=True)]
    decision = decide(estimates)
    return {
        "events": played[0].total.total.count if played else 0,
        "optimalPolicy": decision.policy_name,
        "reason": decision.reason,
        "policies": [
            {
                "name": c.name,
                "source": c.source,
                "arguments": c.arguments,
                "series": p.total.to_dict(),
                **({"slots": {k: s.to_dict() for k, s in p.slots.items()}} if p.slots else {}),
            }
            for c, p in zip(candidates, played, strict=True)
        ],
    }


def _rewards(job: jobs.Job) -> dict[str, Any]:
    """How slot rewards are read: the loop's aggregation and default reward when the job was submitted."""
    return {
        "aggregation": str(job.request.get("aggregation", "earliest")),
        "default_reward": float(job.request.get("default_reward", 0.0)),
    }


def _importances(engine: Engine, job: jobs.Job, progress: Callable[[float], None]) -> dict[str, object]:
    since = recent_start(engine, job.start_time, job.end_time, MAX_EVENTS)
    events = list(read_events(engine, since, job.end_time, **_rewards(job)))
    scores = score_features(
        events, job.request["online_policy"], float(job.request["exploration"]), progress=progress
    )
    return {
        "events": len(events),
        "featureScores": [
            {"namespace": s.namespace, "featureName": s.feature_name, "score": s.score} for s in scores
        ],
    }

"""Evaluations as the service offers them: submit, read, delete, apply, and auto-optimization.

Jobs run one at a time per database, each in a worker process (see worker.py), started by a runner
thread that any service process may host; they never run on a thread that serves ranks.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy import Engine

from bot.personalizer.local.evaluation import jobs
from bot.personalizer.local.evaluation.discovery import same_policy
from bot.personalizer.local.evaluation.offpolicy import Series
from bot.personalizer.local.evaluation.overview import (
    LogCounts,
    ModelVersion,
    log_counts,
    model_versions,
    reward_over_time,
)
from bot.personalizer.local.evaluation.run import run_job
from bot.personalizer.local.evaluation.worker import run_in_worker
from bot.personalizer.local.policy import check_policy

logger = logging.getLogger(__name__)
MAX_CUSTOM_POLICIES = 10
POLL_SECONDS = 1.0


class EvaluationNotFound(LookupError):
    """No evaluation (or feature importance) with this ID."""


class PolicyLoop(Protocol):
    """What evaluations need of the learning loop: its settings and a way to change its policy."""

    @property
    def settings(self) -> Any: ...

    def set_policy(self, arguments: str) -> None: ...


class Evaluations:
    """The evaluation jobs of one learning loop."""

    def __init__(
        self,
        engine: Engine,
        loop: PolicyLoop,
        *,
        clock: Callable[[], float] = time.time,
        in_process: bool = False,
    ) -> None:
        self._engine = engine
        self._loop = loop
        self._clock = clock
        # In-memory SQLite cannot be opened by another process; tests may also choose to run jobs here.
        self._in_process = in_process or engine.url.database in (None, "", ":memory:")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._scheduled_period: int | None = None  # the last period this process submitted (or found)
        jobs.create_tables(engine)

    # --- jobs -------------------------------------------------------------------------------------

    def submit_evaluation(
        self,
        job_id: str,
        name: str,
        start: float,
        end: float,
        policies: list[tuple[str, str]],
        discover: bool,
        evaluation_type: str = jobs.MANUAL,
    ) -> jobs.Job:
        """Store an evaluation of [start, end); ValueError for a bad range or policy, JobExists."""
        _check_range(start, end)
        if len(policies) > MAX_CUSTOM_POLICIES:
            raise ValueError(f"at most {MAX_CUSTOM_POLICIES} policies can be evaluated at once")
        for policy_name, arguments in policies:
            if not policy_name or len(policy_name) > 256:
                raise ValueError("each policy needs a name of 1..256 characters")
            check_policy(arguments)
        settings = self._loop.settings
        request = {
            "policies": [{"name": n, "arguments": a} for n, a in policies],
            "discover": bool(discover),
            "online_policy": settings.policy,
            "exploration": settings.exploration_percentage,
            "aggregation": getattr(settings, "reward_aggregation", "earliest"),
            "default_reward": getattr(settings, "default_reward", 0.0),
        }
        return self._submit(jobs.EVALUATION, job_id, name, start, end, request, evaluation_type)

    def submit_feature_importance(self, job_id: str, name: str, start: float, end: float) -> jobs.Job:
        """Store a feature-importance job over [start, end)."""
        _check_range(start, end)
        settings = self._loop.settings
        request = {"online_policy": settings.policy, "exploration": settings.exploration_percentage}
        return self._submit(jobs.FEATURE_IMPORTANCE, job_id, name, start, end, request, jobs.MANUAL)

    def get(self, kind: str, job_id: str) -> jobs.Job:
        """One job; EvaluationNotFound."""
        job = jobs.get(self._engine, kind, job_id)
        if job is None:
            raise EvaluationNotFound(job_id)
        return job

    def list_jobs(self, kind: str) -> list[jobs.Job]:
        """Every job of a kind, newest first."""
        return jobs.list_jobs(self._engine, kind)

    def delete(self, kind: str, job_id: str) -> None:
        """Delete a job (a running one finishes unseen); EvaluationNotFound."""
        if not jobs.remove(self._engine, kind, job_id):
            raise EvaluationNotFound(job_id)

    def apply(self, evaluation_id: str, policy_name: str) -> str:
        """Make an evaluated learning policy the loop's; the arguments now in force."""
        job = self.get(jobs.EVALUATION, evaluation_id)
        if job.status != jobs.SUCCEEDED or job.result is None:
            raise ValueError(f"evaluation {evaluation_id} has not succeeded")
        for policy in job.result["policies"]:
            if policy["name"] == policy_name:
                if policy["source"] in ("Baseline", "Random"):
                    raise ValueError(f"{policy_name} is a reference point, not a learning policy")
                if not same_policy(policy["arguments"], self._loop.settings.policy):
                    self._loop.set_policy(policy["arguments"])
                    logger.info("policy %s from evaluation %s applied", policy_name, evaluation_id)
                return str(self._loop.settings.policy)
        raise ValueError(f"evaluation {evaluation_id} has no policy named {policy_name!r}")

    # --- what the dashboard shows ----------------------------------------------------------------

    def log_counts(self) -> LogCounts:
        """Events by state, rewards, the log's span."""
        return log_counts(self._engine)

    def model_versions(self) -> list[ModelVersion]:
        """The kept model versions, newest first."""
        return model_versions(self._engine)

    def reward_over_time(self, start: float, end: float) -> tuple[Series, Series]:
        """Online and baseline reward sums per 5 minutes over [start, end)."""
        return reward_over_time(self._engine, start, end)

    # --- running ----------------------------------------------------------------------------------

    def run_pending(self) -> bool:
        """Schedule auto-optimization if due, then run the next job to its end; whether one ran."""
        self.schedule_auto_optimization()
        claimed = jobs.claim_next(self._engine, self._clock())
        if claimed is None:
            return False
        job_id, kind = claimed
        if self._in_process:
            run_job(self._engine, kind, job_id, self._clock)
        else:
            url = self._engine.url.render_as_string(hide_password=False)
            status = run_in_worker(url, kind, job_id)
            if status != 0:
                jobs.finish(
                    self._engine, kind, job_id, self._clock(), None, f"the worker exited with {status}"
                )
        job = jobs.get(self._engine, kind, job_id)
        if job is not None and job.evaluation_type == jobs.AUTO:
            self._conclude_auto(job)
        return True

    def schedule_auto_optimization(self) -> jobs.Job | None:
        """With auto-optimization on and its time come, submit an Auto evaluation of the recent log."""
        settings = self._loop.settings
        if not getattr(settings, "auto_optimization_enabled", False):
            return None
        frequency = float(getattr(settings, "auto_optimization_frequency", 7 * 86400.0))
        begins = getattr(settings, "auto_optimization_start_date", None)
        now = self._clock()
        if begins is not None and now < _epoch(begins):
            return None
        period = int(now // frequency)
        if period == self._scheduled_period:
            return None
        self._scheduled_period = period
        try:
            return self.submit_evaluation(
                f"auto-{period}", f"Auto-optimization {period}", now - frequency, now, [], True, jobs.AUTO
            )
        except jobs.JobExists:
            return None  # this period's run is already submitted (here or by another process)

    def _conclude_auto(self, job: jobs.Job) -> None:
        """Apply an Auto evaluation's optimal policy only if its bound said so; record the decision."""
        if job.status != jobs.SUCCEEDED or job.result is None:
            logger.warning("auto-optimization %s did not succeed: %s", job.id, job.message)
            return
        result = dict(job.result)
        optimal = result["optimalPolicy"]
        current = self._loop.settings.policy
        applied = False
        if optimal != "online" and not same_policy(current, job.request["online_policy"]):
            reason = "not applied: the policy changed while the evaluation ran"
        elif optimal != "online":
            arguments = next(p["arguments"] for p in result["policies"] if p["name"] == optimal)
            self._loop.set_policy(arguments)
            applied, reason = True, f"applied: {result['reason']}"
        else:
            reason = f"kept the online policy: {result['reason']}"
        result["decision"] = {"applied": applied, "reason": reason, "from": current, "at": self._clock()}
        if applied:
            result["decision"]["to"] = self._loop.settings.policy
        jobs.annotate(self._engine, jobs.EVALUATION, job.id, result)
        logger.info("auto-optimization %s: %s", job.id, reason)

    def start(self) -> None:
        """Run jobs from a background thread until close()."""
        self._thread = threading.Thread(target=self._background, name="pz-evaluations", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the background thread (a running worker finishes its job)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _background(self) -> None:
        while not self._stop.is_set():
            try:
                ran = self.run_pending()
            except Exception:  # the runner must outlive a failing job or a database hiccup
                logger.exception("evaluation runner failed; retrying")
                ran = False
            if not ran:
                self._stop.wait(POLL_SECONDS)

    def _submit(
        self,
        kind: str,
        job_id: str,
        name: str,
        start: float,
        end: float,
        request: dict[str, Any],
        kind_of: str,
    ) -> jobs.Job:
        job = jobs.Job(
            id=job_id,
            kind=kind,
            name=name,
            evaluation_type=kind_of,
            status=jobs.RUNNING,
            created_at=self._clock(),
            start_time=start,
            end_time=end,
            request=request,
            result=None,
            message=None,
            progress=0.0,
            finished_at=None,
        )
        jobs.submit(self._engine, job)
        return job


class _LoopPolicy:
    """A LearningLoop seen as a PolicyLoop: its settings, and its admin's set_policy."""

    def __init__(self, loop: Any) -> None:
        self._loop = loop

    @property
    def settings(self) -> Any:
        return self._loop.settings

    def set_policy(self, arguments: str) -> None:
        self._loop.admin.set_policy(arguments)


def evaluations_for(loop: Any, **options: Any) -> Evaluations:
    """The evaluations of a LearningLoop, on its database (not started: call start() to run jobs)."""
    return Evaluations(loop._engine, _LoopPolicy(loop), **options)  # the engine is this package's own


def _check_range(start: float, end: float) -> None:
    if not end > start:
        raise ValueError("endTime must be after startTime")


def _epoch(value: Any) -> float:
    return float(value.timestamp()) if hasattr(value, "timestamp") else float(value)

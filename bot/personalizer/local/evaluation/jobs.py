"""Evaluation and feature-importance jobs: one table, shared by every process on the database."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Engine, Float, MetaData, String, Table, Text, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from bot import db

EVALUATION, FEATURE_IMPORTANCE = "evaluation", "featureImportance"
RUNNING, SUCCEEDED, FAILED = "Running", "Succeeded", "Failed"
MANUAL, AUTO = "Manual", "Auto"
STALE_SECONDS = 600.0  # a claimed job whose worker has not reported for this long has died

metadata = MetaData()

jobs = Table(
    "pz_evaluation_jobs",
    metadata,
    Column("id", String(256), primary_key=True),
    Column("kind", String(32), primary_key=True),
    Column("name", String(256), nullable=False),
    Column("evaluation_type", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("start_time", Float, nullable=False),
    Column("end_time", Float, nullable=False),
    Column("request", Text, nullable=False),
    Column("result", Text),
    Column("message", Text),
    Column("progress", Float, nullable=False, default=0.0),
    Column("claimed_at", Float),
    Column("heartbeat_at", Float),
    Column("finished_at", Float),
)


class JobExists(ValueError):
    """A job with this ID already exists."""


@dataclass(frozen=True)
class Job:
    """One job as stored."""

    id: str
    kind: str
    name: str
    evaluation_type: str
    status: str
    created_at: float
    start_time: float
    end_time: float
    request: dict[str, Any]
    result: dict[str, Any] | None
    message: str | None
    progress: float
    finished_at: float | None


def create_tables(engine: Engine) -> None:
    """Create the jobs table if it is missing."""
    db.create_tables(metadata, engine)


def submit(engine: Engine, job: Job) -> None:
    """Store a new job (it runs when a runner claims it); JobExists if its ID is taken."""
    row = {
        "id": job.id,
        "kind": job.kind,
        "name": job.name,
        "evaluation_type": job.evaluation_type,
        "status": RUNNING,
        "created_at": job.created_at,
        "start_time": job.start_time,
        "end_time": job.end_time,
        "request": json.dumps(job.request),
        "progress": 0.0,
    }
    try:
        with engine.begin() as conn:
            conn.execute(insert(jobs).values(**row))
    except IntegrityError:
        raise JobExists(f"{job.id} already exists") from None


def get(engine: Engine, kind: str, job_id: str) -> Job | None:
    """One job, or None."""
    with engine.connect() as conn:
        row = conn.execute(select(jobs).where(jobs.c.kind == kind, jobs.c.id == job_id)).first()
    return None if row is None else _job(row._mapping)


def list_jobs(engine: Engine, kind: str) -> list[Job]:
    """Every job of a kind, newest first."""
    with engine.connect() as conn:
        rows = conn.execute(select(jobs).where(jobs.c.kind == kind).order_by(jobs.c.created_at.desc()))
        return [_job(row._mapping) for row in rows]


def remove(engine: Engine, kind: str, job_id: str) -> bool:
    """Delete a job; whether it existed."""
    with engine.begin() as conn:
        return bool(conn.execute(delete(jobs).where(jobs.c.kind == kind, jobs.c.id == job_id)).rowcount)


def claim_next(engine: Engine, now: float) -> tuple[str, str] | None:
    """Take the oldest unclaimed job unless one is already running anywhere: at most one at a time.

    Polled every second by each service process: it only reads unless there is something to change, so
    that it never takes SQLite's write lock from the service's writers for nothing.
    """
    with engine.connect() as conn:
        running = conn.execute(
            select(jobs.c.id, jobs.c.heartbeat_at).where(
                jobs.c.status == RUNNING, jobs.c.claimed_at.is_not(None)
            )
        ).all()
        waiting = conn.execute(
            select(jobs.c.id, jobs.c.kind)
            .where(jobs.c.status == RUNNING, jobs.c.claimed_at.is_(None))
            .order_by(jobs.c.created_at)
            .limit(1)
        ).first()
    if any((row.heartbeat_at or 0.0) < now - STALE_SECONDS for row in running):
        fail_stale(engine, now)
        return None  # the next poll claims
    if running or waiting is None:
        return None
    with engine.begin() as conn:
        claimed = conn.execute(
            update(jobs)
            .where(jobs.c.id == waiting.id, jobs.c.kind == waiting.kind, jobs.c.claimed_at.is_(None))
            .values(claimed_at=now, heartbeat_at=now)
        ).rowcount
    return (waiting.id, waiting.kind) if claimed else None


def fail_stale(engine: Engine, now: float) -> None:
    """Mark jobs whose worker stopped reporting as failed, so that the next one can run."""
    with engine.begin() as conn:
        conn.execute(
            update(jobs)
            .where(jobs.c.status == RUNNING, jobs.c.heartbeat_at < now - STALE_SECONDS)
            .values(status=FAILED, message="the worker stopped reporting", finished_at=now)
        )


def report(engine: Engine, kind: str, job_id: str, progress: float, now: float) -> None:
    """Record a running job's progress (0..1)."""
    with engine.begin() as conn:
        conn.execute(
            update(jobs)
            .where(jobs.c.kind == kind, jobs.c.id == job_id, jobs.c.status == RUNNING)
            .values(progress=progress, heartbeat_at=now)
        )


def finish(
    engine: Engine,
    kind: str,
    job_id: str,
    now: float,
    result: dict[str, Any] | None,
    message: str | None = None,
) -> None:
    """Store a job's result (Succeeded) or, with result None, its failure."""
    values: dict[str, Any] = {"finished_at": now, "heartbeat_at": now, "message": message}
    if result is None:
        values["status"] = FAILED
    else:
        values.update(status=SUCCEEDED, progress=1.0, result=json.dumps(result))
    with engine.begin() as conn:
        conn.execute(update(jobs).where(jobs.c.kind == kind, jobs.c.id == job_id).values(**values))


def annotate(engine: Engine, kind: str, job_id: str, result: dict[str, Any]) -> None:
    """Replace a finished job's result (auto-optimization adds its decision)."""
    with engine.begin() as conn:
        conn.execute(
            update(jobs).where(jobs.c.kind == kind, jobs.c.id == job_id).values(result=json.dumps(result))
        )


def _job(row: Any) -> Job:
    return Job(
        id=row["id"],
        kind=row["kind"],
        name=row["name"],
        evaluation_type=row["evaluation_type"],
        status=row["status"],
        created_at=row["created_at"],
        start_time=row["start_time"],
        end_time=row["end_time"],
        request=json.loads(row["request"]),
        result=None if row["result"] is None else json.loads(row["result"]),
        message=row["message"],
        progress=float(row["progress"] or 0.0),
        finished_at=row["finished_at"],
    )

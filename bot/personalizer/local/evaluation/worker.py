"""The evaluation worker: a separate process, at low CPU priority and with bounded memory, runs one job.

Started by the service as `python -m bot.personalizer.local.evaluation`; it reads
`{"database_url", "kind", "id"}` as JSON on standard input (so the URL's password never shows in a
process listing), runs the job and exits. Ranking never waits for it: it holds no lock the service
uses and shares no interpreter (no GIL) with the service's processes.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import subprocess
import sys
from pathlib import Path

from bot.db import create_database_engine
from bot.personalizer.local.evaluation.run import run_job

PROJECT_ROOT = Path(__file__).resolve().parents[4]  # where `bot` is importable from, whatever the cwd

NICE = 15
MEMORY_BYTES = 3 * 1024**3  # address space: VW's and the interpreter's mappings fit well within it
MAX_SECONDS = 1800


def limit_resources() -> None:
    """In the child before exec: lowest-but-one CPU priority, bounded address space."""
    os.nice(NICE)
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))


def run_in_worker(database_url: str, kind: str, job_id: str, timeout: float = MAX_SECONDS) -> int:
    """Run one job in a worker process and wait for it; its exit status (negative: killed)."""
    payload = json.dumps({"database_url": database_url, "kind": kind, "id": job_id})
    # The service's cwd and environment are kept (a relative SQLite path means the same file); `bot` is found
    # from PROJECT_ROOT whatever the cwd.
    start = (
        f"import runpy, sys; sys.path.insert(0, {str(PROJECT_ROOT)!r}); "
        "runpy.run_module('bot.personalizer.local.evaluation', run_name='__main__')"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", start],
        stdin=subprocess.PIPE,
        preexec_fn=limit_resources,  # noqa: PLW1509 - the service starts workers from one thread
        close_fds=True,
    )
    try:
        process.communicate(payload.encode("utf-8"), timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    return process.returncode


def main() -> None:
    """Entry point of the worker process."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    request = json.loads(sys.stdin.read())
    engine = create_database_engine(request["database_url"])
    try:
        run_job(engine, request["kind"], request["id"])
    finally:
        engine.dispose()

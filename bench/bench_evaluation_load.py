"""The service's load figures while an offline evaluation runs: wrk rank+reward pairs, quiet and busy windows.

`python app.py personalizer` (WEB_CONCURRENCY=2, SQLite) over a log of N learned events of the seeded
world; wrk drives bench_service_load.py's rank+reward pairs in alternating windows: quiet, then with an
evaluation of the whole log (online, baseline, random and the discovery grid) submitted through
`POST /evaluations` and running in the service's worker process. Requests per second and p99 per window,
and the ratio of the busy windows' medians to the quiet ones'. Needs wrk. Loopback only.

    .venv/bin/python bench/bench_evaluation_load.py                  # 100,000 events, 20 s windows
    .venv/bin/python bench/bench_evaluation_load.py --events 20000 --window 10 --pairs 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import bench_service_load as load  # noqa: E402
from bench.evaluation_world import log_events  # noqa: E402
from bot.db import create_database_engine  # noqa: E402
from bot.personalizer.local import store  # noqa: E402

HEADERS = {"Ocp-Apim-Subscription-Key": load.KEY}


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--window", type=int, default=20, help="seconds per wrk window")
    parser.add_argument("--pairs", type=int, default=3, help="busy windows (each between two quiet ones)")
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        url = f"sqlite:///{workdir / 'service.db'}"
        engine = create_database_engine(url)
        store.create_tables(engine)
        start = time.time() - args.events - 120  # inside log retention
        span = log_events(engine, args.events, seed=9, start=start, step=1.0)
        engine.dispose()
        port = load.free_port()
        process = start_service(url, port)
        base = f"http://127.0.0.1:{port}"
        script = workdir / "pairs.lua"
        rows: list[tuple[str, float, float, int, str]] = []
        evaluation: str | None = None
        try:
            script.write_text(load.PAIRS_LUA.replace("KEY", load.KEY).replace("RUN", "warmup"))
            load.run_wrk(base, 3, args.connections, 2, script)
            for index in range(2 * args.pairs + 1):
                busy = index % 2 == 1
                state = ""
                if busy:
                    evaluation = submit_if_idle(base, evaluation, span)
                    time.sleep(1.0)  # the worker process has started
                script.write_text(load.PAIRS_LUA.replace("KEY", load.KEY).replace("RUN", f"w{index}"))
                result = load.parse_wrk(
                    load.run_wrk(base, args.window, args.connections, 2, script), "pairs", "sqlite"
                )
                if busy and evaluation is not None:
                    state = status(base, evaluation)
                rows.append(
                    (
                        "evaluation running" if busy else "quiet",
                        result.requests_per_second,
                        result.p99_ms,
                        result.errors,
                        state,
                    )
                )
            while evaluation is not None and status(base, evaluation) == "pending":
                time.sleep(1.0)
        finally:
            load.stop_service(process)
        print(f"## Service load while evaluating {args.events} logged events (WEB_CONCURRENCY=2, SQLite)")
        print(f"wrk, {args.connections} connections, rank+reward pairs, {args.window} s windows, alternating")
        print("| window | req/s | p99 ms | errors | evaluation at the window's end |")
        print("|---|---:|---:|---:|---|")
        for label, rps, p99, errors, state in rows:
            print(f"| {label} | {rps:.0f} | {p99:.2f} | {errors} | {state} |")
        quiet = [r for r in rows if r[0] == "quiet"]
        loaded = [r for r in rows if r[0] != "quiet"]
        rps_ratio = statistics.median(r[1] for r in loaded) / statistics.median(r[1] for r in quiet)
        p99_ratio = statistics.median(r[2] for r in loaded) / statistics.median(r[2] for r in quiet)
        print(
            f"\nmedian req/s, running / quiet: {rps_ratio:.2f}; median p99, running / quiet: {p99_ratio:.2f}"
        )
        took = ", ".join(f"{seconds:.0f}" for seconds in done_times.values())
        print(f"evaluations run: {len(done_times)}; seconds from submission to its end, each: {took}")


def start_service(url: str, port: int) -> subprocess.Popen[bytes]:
    """`python app.py personalizer` (2 processes); stopped again if it does not answer within 120 s."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONALIZER_")}
    env.update(
        PERSONALIZER_KEY=load.KEY, PORT=str(port), HOST="127.0.0.1", DATABASE_URL=url, LOG_LEVEL="WARNING"
    )
    env["WEB_CONCURRENCY"] = "2"
    process = subprocess.Popen([sys.executable, "app.py", "personalizer"], cwd=ROOT, env=env)
    deadline = time.monotonic() + 120  # a loaded machine and a large log make start-up slow
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).ok:
                return process
        except requests.RequestException:
            time.sleep(0.5)
    load.stop_service(process)
    raise SystemExit("the service did not start")


def submit_if_idle(base: str, current: str | None, span: tuple[float, float]) -> str:
    """The running evaluation, or a new one of the whole log when none runs."""
    if current is not None and status(base, current) == "pending":
        return current
    body = {
        "name": "load",
        "startTime": iso(span[0] - 1),
        "endTime": iso(span[1] + 1),
        "policies": [],
        "enableOfflineExperimentation": True,
    }
    answer = requests.post(f"{base}/personalizer/v1.0/evaluations", json=body, headers=HEADERS, timeout=30)
    answer.raise_for_status()
    submitted[answer.json()["id"]] = time.monotonic()
    return str(answer.json()["id"])


submitted: dict[str, float] = {}
done_times: dict[str, float] = {}


def status(base: str, evaluation: str) -> str:
    """pending, completed or failed; records how long a finished one took."""
    answer = requests.get(f"{base}/personalizer/v1.0/evaluations/{evaluation}", headers=HEADERS, timeout=30)
    state = str(answer.json()["status"])
    if state != "pending" and evaluation not in done_times:
        done_times[evaluation] = time.monotonic() - submitted.get(evaluation, time.monotonic())
    return state


if __name__ == "__main__":
    main()

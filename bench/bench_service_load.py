"""Load: rank+reward pairs through `python app.py personalizer`, beside a trivial endpoint on the same stack.

wrk drives 16 connections on loopback: each connection ranks (the quickstart's four actions, a fresh event ID),
and as soon as a rank is answered its event is rewarded on the next free connection. The trivial endpoint
(GET /healthz of the same server process) is the ceiling of the stack. After each run the log is checked:
every rank answered 201 is an event, every reward answered 204 a stored reward.

    .venv/bin/python bench/bench_service_load.py                     # SQLite, 60 s per run
    .venv/bin/python bench/bench_service_load.py --duration 20 --postgres postgresql://...@127.0.0.1/db
Needs wrk (apt-get install -y wrk). Loopback only.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import requests
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.api.asgi import build_app  # noqa: E402
from bot.api.server import serving_in_thread  # noqa: E402
from bot.db import create_database_engine  # noqa: E402
from bot.personalizer.base import RankedAction, RankRequest, RankResult  # noqa: E402
from bot.personalizer.local import store  # noqa: E402

KEY = "bench-key"
PAIRS_LUA = r"""
local ready, counter = {}, 0
statuses = {}  -- a global, so done() can read each thread's copy
local threads, made = {}, 0
local headers = {["Content-Type"] = "application/json", ["Ocp-Apim-Subscription-Key"] = "KEY"}
local head = '{"contextFeatures":[{"taste_preference":"salty"},{"time_of_day":"evening"},{"user":"U0"}],'
  .. '"actions":[{"id":"pasta","features":[{"taste":"salty","spice_level":"medium"},'
  .. '{"nutrition_level":5,"cuisine":"italian"}]},{"id":"ice cream","features":[{"taste":"sweet",'
  .. '"spice_level":"none"},{"nutritional_level":2}]},{"id":"juice","features":[{"taste":"sweet",'
  .. '"spice_level":"none"},{"nutritional_level":5},{"drink":true}]},{"id":"salad","features":'
  .. '[{"taste":"salty","spice_level":"none"},{"nutritional_level":2}]}],"excludedActions":["juice"],"eventId":"'
function setup(thread)
  made = made + 1
  thread:set("tid", "RUN-" .. made)
  table.insert(threads, thread)
end
function request()
  local n = #ready
  if n > 0 then
    local id = ready[n]
    ready[n] = nil
    return wrk.format("POST", "/personalizer/v1.0/events/" .. id .. "/reward", headers, '{"value":1.0}')
  end
  counter = counter + 1
  return wrk.format("POST", "/personalizer/v1.0/rank", headers, head .. tid .. "-" .. counter .. '"}')
end
function response(status, hdrs, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status == 201 then
    local id = body:match('"eventId":"([^"]+)"')
    if id then ready[#ready + 1] = id end
  end
end
function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for code, n in pairs(thread:get("statuses")) do total[code] = (total[code] or 0) + n end
  end
  for code, n in pairs(total) do io.write(string.format("status %d %d\n", code, n)) end
end
"""


@dataclass
class Result:
    label: str
    database: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    statuses: dict[int, int]
    durable: str = "-"
    wal_mb: float | None = None  # SQLite's WAL file after the run: the largest the WAL grew


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_service(database_url: str, port: int, **settings: str) -> subprocess.Popen[bytes]:
    """`python app.py personalizer` on loopback, waited for until /healthz answers; `settings` add env vars."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONALIZER_")}
    env.update(
        PERSONALIZER_KEY=KEY, PORT=str(port), HOST="127.0.0.1", DATABASE_URL=database_url, LOG_LEVEL="WARNING"
    )
    env.update(settings)
    process = subprocess.Popen([sys.executable, "app.py", "personalizer"], cwd=ROOT, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the service exited with {process.returncode}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                return process
        except requests.ConnectionError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the service did not start")


def stop_service(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run_wrk(url: str, duration: int, connections: int, threads: int, script: Path | None) -> str:
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "5s"]
    if script is not None:
        command += ["-s", str(script)]
    done = subprocess.run([*command, url], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return done.stdout


def parse_wrk(output: str, label: str, database: str) -> Result:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    percentiles = {
        m[0]: _ms(m[1], m[2]) for m in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
    }
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = (int(non_2xx.group(1)) if non_2xx else 0) + (
        sum(int(g) for g in socket_errors.groups()) if socket_errors else 0
    )
    statuses = {int(code): int(n) for code, n in re.findall(r"^status (\d+) (\d+)$", output, re.M)}
    return Result(label, database, rps, percentiles["50"], percentiles["99"], errors, statuses)


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def log_counts(database_url: str, prefix: str) -> tuple[int, int]:
    """Events and rewards of one run (its event IDs start with `prefix`)."""
    engine = create_database_engine(database_url)
    try:
        with engine.connect() as conn:
            events = conn.execute(
                select(func.count())
                .select_from(store.events)
                .where(store.events.c.event_id.startswith(prefix))
            ).scalar_one()
            rewards = conn.execute(
                select(func.count())
                .select_from(store.rewards)
                .where(store.rewards.c.event_id.startswith(prefix))
            ).scalar_one()
        return int(events), int(rewards)
    finally:
        engine.dispose()


def bench_database(database_url: str, name: str, args: argparse.Namespace, workdir: Path) -> list[Result]:
    port = free_port()
    process = start_service(database_url, port)
    base = f"http://127.0.0.1:{port}"
    headers = {"Ocp-Apim-Subscription-Key": KEY}
    try:
        requests.delete(base + "/personalizer/v1.0/logs", headers=headers, timeout=30).raise_for_status()
        script = workdir / "pairs.lua"
        script.write_text(PAIRS_LUA.replace("KEY", KEY).replace("RUN", f"warmup{int(time.time())}"))
        run_wrk(base, 3, args.connections, args.threads, script)  # warm-up: imports, caches, first model
        prefix = f"{name}{int(time.time())}"
        script.write_text(PAIRS_LUA.replace("KEY", KEY).replace("RUN", prefix))
        pairs = parse_wrk(
            run_wrk(base, args.duration, args.connections, args.threads, script), "rank+reward", name
        )
        ceiling = parse_wrk(
            run_wrk(base + "/healthz", args.duration, args.connections, args.threads, None),
            "GET /healthz",
            name,
        )
        pairs.wal_mb = wal_file_mb(database_url)
    finally:
        stop_service(process)
    events, rewards = log_counts(database_url, prefix + "-")
    ranked, rewarded = pairs.statuses.get(201, 0), pairs.statuses.get(204, 0)
    # Every answered request is in the log; a few more may be too: wrk stops with requests in flight
    # (committed, but their answers never counted), at most one per connection.
    ok = ranked <= events <= ranked + args.connections and rewarded <= rewards <= rewarded + args.connections
    pairs.durable = (
        f"{'yes' if ok else 'NO'}: {events} events for {ranked} 201s, {rewards} rewards for {rewarded} 204s"
    )
    return [pairs, ceiling]


def wal_file_mb(database_url: str) -> float | None:
    """The size of SQLite's WAL file in MB; it never shrinks, so it shows the largest the WAL grew."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database:
        return None
    wal = Path(f"{url.database}-wal")
    return wal.stat().st_size / 1e6 if wal.exists() else 0.0


class NullLoop:
    """Answers at once and stores nothing: what the HTTP layer alone can do (the loop's cost excluded)."""

    async def rank_async(self, request: RankRequest) -> RankResult:
        allowed = [a.id for a in request.actions if a.id not in request.excluded_actions]
        ranking = [
            RankedAction(i, 1 / len(allowed) if i in allowed else 0.0)
            for i in (a.id for a in request.actions)
        ]
        return RankResult(request.event_id or "made-up", allowed[0], ranking)

    async def reward_async(self, event_id: str, value: float) -> None:
        return None


def bench_http_layer(args: argparse.Namespace, workdir: Path) -> list[Result]:
    """The same pairs over NullLoop, served in this process by the production server stack."""
    with serving_in_thread(build_app(NullLoop(), KEY)) as base:
        script = workdir / "pairs.lua"
        script.write_text(PAIRS_LUA.replace("KEY", KEY).replace("RUN", f"null{int(time.time())}"))
        run_wrk(base, 3, args.connections, args.threads, script)
        output = run_wrk(base, args.duration, args.connections, args.threads, script)
    return [parse_wrk(output, "rank+reward, HTTP layer only (NullLoop)", "none")]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=60, help="seconds per run (default 60)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--postgres", default=os.environ.get("BENCH_DATABASE_URL", ""), help="PostgreSQL URL")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument(
        "--http-layer", action="store_true", help="also run the pairs over a loop that does nothing"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if not args.skip_sqlite:
            results += bench_database(f"sqlite:///{workdir}/bench.db", "SQLite", args, workdir)
        if args.postgres:
            results += bench_database(args.postgres, "PostgreSQL", args, workdir)
        if args.http_layer:
            results += bench_http_layer(args, workdir)
    print(f"\n{args.connections} connections, {args.duration} s per run, wrk -t{args.threads}, loopback\n")
    print("| workload | database | req/s | p50 ms | p99 ms | errors | durable (log vs answers) |")
    print("|---|---|---:|---:|---:|---:|---|")
    for r in results:
        print(
            f"| {r.label} | {r.database} | {r.requests_per_second:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} "
            f"| {r.errors} | {r.durable} |"
        )
    for r in results:
        if r.wal_mb is not None:
            print(f"\n{r.database}'s WAL file after the {r.label} run: {r.wal_mb:,.0f} MB")


if __name__ == "__main__":
    main()

"""Speed of the Slack app as Slack drives it: time to the HTTP ack and to the suggestion at response_url.

200 `/whatsfordinner <taste> <time>` slash commands and 200 "Suggest" clicks, 20 at a time, signed like
Slack, against `python app.py` (HTTP mode, local learner, SQLite) on loopback with a fake Slack Web API.
Prints a table and writes docs/slack-bench.md.

    .venv/bin/python bench/bench_slack.py [--requests 200] [--concurrency 20] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests" / "support")]

from slack_fakes import FakeSlack, RunningApp, app_environment, block_action, command_body, sign, start_app  # noqa: E402

from blocks import ids  # noqa: E402

TASTES = ["salty", "sweet"]
TIMES = ["morning", "afternoon", "evening", "night"]
WARMUP = 20
SEQUENTIAL = 50


@dataclass
class Sample:
    """One request: seconds to the HTTP answer and to the suggestion at the response_url."""

    status: int
    ack: float
    suggestion: float


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), nearest-rank."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


class Bench:
    """Fires signed requests at the app and times them against the fake's arrival clock."""

    def __init__(self, app: RunningApp, fake: FakeSlack) -> None:
        self.app = app
        self.fake = fake
        self._local = threading.local()
        self._counter = 0
        self._lock = threading.Lock()

    def _session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def _name(self, prefix: str) -> str:
        with self._lock:
            self._counter += 1
            return f"{prefix}{self._counter}"

    def _fire(self, body: str, name: str) -> Sample:
        headers = sign(body)
        started = time.perf_counter()
        response = self._session().post(
            f"{self.app.base_url}/slack/events", data=body.encode(), headers=headers
        )
        acked = time.perf_counter()
        arrived = self.fake.wait(lambda: self.fake.response_calls(name), 1, 10, name)[0]
        assert "blocks" in arrived.body, f"no suggestion for {name}: {arrived.body}"
        return Sample(response.status_code, acked - started, arrived.at - started)

    def slash_command(self, _: int) -> Sample:
        """`/whatsfordinner <taste> <time>`: ranked at once, answered at the command's response_url."""
        name = self._name("cmd")
        text = f"{random.choice(TASTES)} {random.choice(TIMES)}"
        return self._fire(
            command_body(text, self.fake.response_url(name), user=f"U{random.randrange(50)}"), name
        )

    def suggest_click(self, _: int) -> Sample:
        """A "Suggest" click on the menus."""
        name = self._name("click")
        state = {
            ids.MENUS_BLOCK: {
                ids.TASTE_SELECT: {
                    "type": "static_select",
                    "selected_option": {"value": random.choice(TASTES)},
                }
            }
        }
        payload = block_action(
            ids.SUGGEST,
            self.fake.response_url(name),
            user=f"U{random.randrange(50)}",
            value=f"|{random.choice(TIMES)}",
            state=state,
        )
        return self._fire(urlencode({"payload": json.dumps(payload)}), name)

    def run(self, kind: str, count: int, concurrency: int) -> Run:
        """`count` requests of one kind, `concurrency` in flight, and the CPU the app spent on them."""
        fire = self.slash_command if kind == "slash" else self.suggest_click
        cpu_before = app_cpu_seconds(self.app.process.pid)
        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            samples = list(pool.map(fire, range(count)))
        wall = time.perf_counter() - started
        return Run(samples, app_cpu_seconds(self.app.process.pid) - cpu_before, wall)


@dataclass
class Run:
    """One row of the table: its samples and the app's CPU time over them."""

    samples: list[Sample]
    app_cpu: float
    wall: float


def app_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used (Linux /proc), NaN elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summarize(run: Run) -> dict[str, float]:
    """p50/p99/max in milliseconds, and the app's CPU milliseconds per request."""
    samples = run.samples
    acks = [s.ack * 1000 for s in samples]
    suggestions = [s.suggestion * 1000 for s in samples]
    return {
        "ack_p50": statistics.median(acks),
        "ack_p99": percentile(acks, 99),
        "ack_max": max(acks),
        "sug_p50": statistics.median(suggestions),
        "sug_p99": percentile(suggestions, 99),
        "sug_max": max(suggestions),
        "cpu": run.app_cpu * 1000 / len(samples),
        "rate": len(samples) / run.wall,
    }


def table(rows: dict[str, dict[str, float]]) -> str:
    """A Markdown table of the figures."""
    lines = [
        "| requests | ack p50 | ack p99 | ack max | suggestion p50 | suggestion p99 | suggestion max "
        "| app CPU per request | requests/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, r in rows.items():
        lines.append(
            f"| {label} | {r['ack_p50']:.1f} ms | {r['ack_p99']:.1f} ms | {r['ack_max']:.1f} ms "
            f"| {r['sug_p50']:.1f} ms | {r['sug_p99']:.1f} ms | {r['sug_max']:.1f} ms | {r['cpu']:.1f} ms "
            f"| {r['rate']:.0f} |"
        )
    return "\n".join(lines)


def machine() -> str:
    """CPU and Python, for the report."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{cpu}, {cores} cores available, Python {platform.python_version()}, {platform.system()}"


def measure(requests_per_row: int, concurrency: int) -> dict[str, Run]:
    """One run: a fresh app on a fresh database, warmed up, then every row of the table."""
    with tempfile.TemporaryDirectory() as tmp, FakeSlack() as fake:
        workdir = Path(tmp)
        env = app_environment(fake, workdir, LOG_LEVEL="WARNING", PERSONALIZER_MODEL_UPDATE_FREQUENCY="")
        app = start_app(env, workdir)  # production defaults: a model published every 30 s
        try:
            bench = Bench(app, fake)
            bench.run("slash", WARMUP, concurrency)  # imports, connections, first model: not counted
            n, c = requests_per_row, concurrency
            return {
                f"slash command ×{n}, {c} in flight": bench.run("slash", n, c),
                f'"Suggest" click ×{n}, {c} in flight': bench.run("click", n, c),
                # For reference: the same with nothing else in flight, what one user sees on a quiet host.
                f"slash command ×{SEQUENTIAL}, one at a time": bench.run("slash", SEQUENTIAL, 1),
                f'"Suggest" click ×{SEQUENTIAL}, one at a time': bench.run("click", SEQUENTIAL, 1),
            }
        finally:
            app.stop()


def main() -> None:
    """Run the benchmark, print the table and write docs/slack-bench.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3, help="independent runs, each on a fresh app")
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "slack-bench.md")
    args = parser.parse_args()
    random.seed(7)
    sections = []
    for number in range(1, args.runs + 1):
        load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        results = measure(args.requests, args.concurrency)
        failures = sum(s.status != 200 for run in results.values() for s in run.samples)
        text = table({label: summarize(run) for label, run in results.items()})
        print(f"run {number} (load average {load_before:.2f}, non-200 answers: {failures})\n{text}")
        sections.append(
            f"### Run {number}\n\nOne-minute load average at the start: {load_before:.2f} (anything above 0 is "
            f"other work sharing the cores). Non-200 answers: {failures}.\n\n{text}\n"
        )
    runs_text = "\n".join(sections)
    report = f"""# Slack app speed

Measured by `bench/bench_slack.py` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {machine()}.

The app runs as production runs it (`python app.py`: uvicorn + Starlette, Bolt, local learner on SQLite in
WAL mode) on 127.0.0.1; a fake Slack Web API and response_url sink run in the benchmark process. Each request
is signed like Slack's. {args.requests} slash commands with a text shortcut (`/whatsfordinner <taste> <time>`,
random values, 50 users) and then {args.requests} "Suggest" clicks, {args.concurrency} in flight at a time,
after {WARMUP} warm-up commands that are not counted; then {SEQUENTIAL} of each one at a time, for reference.

- **ack**: from sending the request to receiving the HTTP answer (Slack needs it within 3 s).
- **suggestion**: from sending the request to the suggestion (a Rank by the learner, the suggestion stored,
  the message built) arriving at the response_url.
- **app CPU per request**: user + system CPU time of the app process over the row, divided by its requests
  (what the latencies cost, whatever else the host was running).

Targets (on 2 cores): p99 ack under 100 ms, p99 to suggestion under 300 ms. Client, fake Slack
and app share the machine, so the figures include their contention; each run starts a fresh app and
database, and the runs show how much the figures move from one to the next.

{runs_text}"""
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()

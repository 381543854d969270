"""The load bench_slack.py puts on the app: signed requests, timed against the fake Slack's arrival clock."""

from __future__ import annotations

import itertools
import json
import os
import platform
import random
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import requests
from slack_fakes import Call, FakeSlack, RunningApp, block_action, command_body, sign

from blocks import ids

TASTES = ["salty", "sweet"]
TIMES = ["morning", "afternoon", "evening", "night"]
USERS = 50
WARMUP = 20


@dataclass
class Sample:
    """One request: seconds to the HTTP answer and to what it makes arrive at the fake Slack."""

    status: int
    ack: float
    suggestion: float
    delivered: bool = True  # False: an apology arrived instead (the rank gave up at its deadline)


@dataclass
class Run:
    """One row of the table: its samples and the app's CPU time over them."""

    samples: list[Sample]
    app_cpu: float
    wall: float


class Bench:
    """Fires signed requests at the app; each thread sends one at a time, so its users never overlap."""

    def __init__(self, app: RunningApp, fake: FakeSlack) -> None:
        self.app = app
        self.fake = fake
        self._local = threading.local()
        self._counter = itertools.count()
        self._threads = itertools.count()

    def _session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def _thread_index(self) -> int:
        if not hasattr(self._local, "index"):
            self._local.index = next(self._threads)
        return self._local.index

    def _post(self, body: str, headers: dict[str, str]) -> tuple[int, float, float]:
        started = time.perf_counter()
        response = self._session().post(
            f"{self.app.base_url}/slack/events", data=body.encode(), headers=headers
        )
        return response.status_code, started, time.perf_counter()

    def _fire(self, body: str, name: str) -> Sample:
        status, started, acked = self._post(body, sign(body))
        arrived = self.fake.wait(lambda: self.fake.response_calls(name), 1, 10, name)[0]
        return Sample(status, acked - started, arrived.at - started, "blocks" in arrived.body)

    def slash_command(self, _: int) -> Sample:
        """`/whatsfordinner <taste> <time>`: ranked at once, answered at the command's response_url."""
        name = f"cmd{next(self._counter)}"
        text = f"{random.choice(TASTES)} {random.choice(TIMES)}"
        user = f"U{random.randrange(USERS)}"
        return self._fire(command_body(text, self.fake.response_url(name), user=user), name)

    def suggest_click(self, _: int) -> Sample:
        """A "Suggest" click on the menus."""
        name = f"click{next(self._counter)}"
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
            user=f"U{random.randrange(USERS)}",
            value=f"|{random.choice(TIMES)}",
            state=state,
        )
        return self._fire(urlencode({"payload": json.dumps(payload)}), name)

    def home_opened(self, number: int) -> Sample:
        """`app_home_opened` for one of the users who asked for suggestions, timed to its views.publish."""
        index = self._thread_index()
        user = f"U{(index + 20 * (number % 2)) % USERS}"  # this thread's own users: none is in flight twice
        seen = len(self._published(user))
        body = json.dumps(
            {
                "token": "legacy",
                "team_id": "T0FAKE",
                "api_app_id": "A0FAKE",
                "type": "event_callback",
                "event_id": f"Ev{next(self._counter)}",
                "event_time": int(time.time()),
                "event": {"type": "app_home_opened", "user": user, "channel": "D0", "tab": "home"},
            }
        )
        status, started, acked = self._post(body, {**sign(body), "Content-Type": "application/json"})
        published = self.fake.wait(lambda: self._published(user), seen + 1, 10, f"views.publish {user}")[seen]
        return Sample(status, acked - started, published.at - started)

    def _published(self, user: str) -> list[Call]:
        with self.fake._changed:
            calls = self.fake._by_name.get(("api", "views.publish"), [])
            return [c for c in calls if c.body.get("user_id") == user]

    def run(self, kind: str, count: int, concurrency: int, keep: bool = True) -> Run:
        """`count` requests of one kind, `concurrency` in flight, and the CPU the app spent on them."""
        fire = {"slash": self.slash_command, "click": self.suggest_click, "home": self.home_opened}[kind]
        cpu_before = app_cpu_seconds(self.app.process.pid)
        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            samples = list(pool.map(fire, range(count)))
        wall = time.perf_counter() - started
        if not keep:
            self.forget()
        return Run(samples, app_cpu_seconds(self.app.process.pid) - cpu_before, wall)

    def forget(self) -> None:
        """Drop the fake's record of response_url posts (the long RSS run would fill the bench's memory)."""
        with self.fake._changed:
            self.fake.calls = [c for c in self.fake.calls if c.kind == "api"]
            for key in [k for k in self.fake._by_name if k[0] == "respond"]:
                del self.fake._by_name[key]


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), nearest-rank."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def app_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used (Linux /proc), NaN elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """Resident memory of a process (VmRSS) in MB, NaN where /proc is missing."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def summarize(run: Run) -> dict[str, float]:
    """p50/p99/max in milliseconds, and the app's CPU milliseconds per request."""
    acks = [s.ack * 1000 for s in run.samples]
    answers = [s.suggestion * 1000 for s in run.samples]
    return {
        "ack_p50": statistics.median(acks),
        "ack_p99": percentile(acks, 99),
        "sug_p50": statistics.median(answers),
        "sug_p99": percentile(answers, 99),
        "sug_max": max(answers),
        "cpu": run.app_cpu * 1000 / len(run.samples),
    }


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

"""Fault: kill -9 the Personalizer service in the middle of rank+reward load, restart it, check the log.

Every rank answered 201 must be a logged event; every reward answered 204 must be stored with its value and,
once the restarted service has trained, learned exactly once: the event is marked learned with that value,
and the published model's count of learned events equals the number of events marked learned.

    .venv/bin/python bench/bench_service_kill.py                       # SQLite, 3 kills
    .venv/bin/python bench/bench_service_kill.py --kills 5 --postgres postgresql://...@127.0.0.1/db
Loopback only; stops by itself.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import bench_service_load as load_bench  # noqa: E402
from bench_service_load import KEY, free_port  # noqa: E402

from bot.db import create_database_engine  # noqa: E402
from bot.personalizer.local import store  # noqa: E402

RANK_BODY = {
    "contextFeatures": [{"taste_preference": "sweet"}, {"time_of_day": "night"}],
    "actions": [
        {"id": "pasta", "features": [{"taste": "salty", "spice_level": "medium"}]},
        {"id": "ice cream", "features": [{"taste": "sweet", "spice_level": "none"}]},
        {"id": "salad", "features": [{"taste": "salty", "spice_level": "none"}]},
    ],
}


@dataclass
class Answered:
    """What the clients were told, shared by the client threads."""

    ranked: set[str] = field(default_factory=set)
    rewarded: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def start_service(database_url: str, port: int) -> subprocess.Popen[bytes]:
    """The service with a 1 s model update frequency, so it trains between kills."""
    return load_bench.start_service(database_url, port, PERSONALIZER_MODEL_UPDATE_FREQUENCY="PT1S")


def client(port: int, name: str, answered: Answered, stop: threading.Event) -> None:
    """Rank, then reward (1.0 or 0.0), until the service dies under us."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    headers = {"Ocp-Apim-Subscription-Key": KEY, "Content-Type": "application/json"}
    n = 0
    try:
        while not stop.is_set():
            n += 1
            event_id = f"{name}-{n}"
            connection.request(
                "POST", "/personalizer/v1.0/rank", json.dumps(dict(RANK_BODY, eventId=event_id)), headers
            )
            response = connection.getresponse()
            response.read()
            if response.status != 201:
                raise RuntimeError(f"rank answered {response.status}")
            with answered.lock:
                answered.ranked.add(event_id)
            value = float(n % 2)
            connection.request(
                "POST", f"/personalizer/v1.0/events/{event_id}/reward", json.dumps({"value": value}), headers
            )
            response = connection.getresponse()
            response.read()
            if response.status != 204:
                raise RuntimeError(f"reward answered {response.status}")
            with answered.lock:
                answered.rewarded[event_id] = value
    except (OSError, http.client.HTTPException):
        pass  # killed mid-request: that request was never answered, so it promises nothing
    finally:
        connection.close()


def load_then_kill(
    port: int, process: subprocess.Popen[bytes], round_no: int, args: argparse.Namespace
) -> Answered:
    answered = Answered()
    stop = threading.Event()
    threads = [
        threading.Thread(target=client, args=(port, f"k{round_no}-c{i}-{int(time.time())}", answered, stop))
        for i in range(args.clients)
    ]
    for thread in threads:
        thread.start()
    time.sleep(args.load_seconds)
    os.kill(process.pid, signal.SIGKILL)  # no warning, no graceful shutdown
    process.wait()
    stop.set()
    for thread in threads:
        thread.join(timeout=10)
    return answered


def wait_learned(database_url: str, event_ids: set[str], timeout: float) -> None:
    engine = create_database_engine(database_url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                pending = conn.execute(
                    select(func.count())
                    .select_from(store.events)
                    .where(
                        store.events.c.event_id.in_(list(event_ids)), store.events.c.state != store.LEARNED
                    )
                ).scalar_one()
            if pending == 0:
                return
            time.sleep(0.5)
    finally:
        engine.dispose()


def verify(database_url: str, ranked: set[str], rewarded: dict[str, float]) -> dict[str, int]:
    engine = create_database_engine(database_url)
    report = {"ranks answered 201": len(ranked), "rewards answered 204": len(rewarded)}
    missing_events = missing_rewards = wrong_learning = 0
    try:
        for event_id in ranked:
            if store.get_event(engine, event_id) is None:
                missing_events += 1
        for event_id, value in rewarded.items():
            stored = [v for v, _ in store.event_rewards(engine, event_id)]
            if value not in stored:
                missing_rewards += 1
            event = store.get_event(engine, event_id)
            if event is None or event["state"] != store.LEARNED or event["learned_value"] != value:
                wrong_learning += 1
        with engine.connect() as conn:
            learned = conn.execute(
                select(func.count()).select_from(store.events).where(store.events.c.state == store.LEARNED)
            ).scalar_one()
        latest = store.latest_model(engine)
    finally:
        engine.dispose()
    report.update(
        {
            "events missing from the log": missing_events,
            "204 rewards missing": missing_rewards,
            "204 rewards not learned (or wrong value)": wrong_learning,
            "events marked learned": int(learned),
            "examples the model learned": latest.learned_events if latest else 0,
        }
    )
    return report


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--load-seconds", type=float, default=3.0, help="load before each kill -9")
    parser.add_argument("--postgres", default=os.environ.get("BENCH_DATABASE_URL", ""))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        database_url = args.postgres or f"sqlite:///{tmp}/kill.db"
        port = free_port()
        process = start_service(database_url, port)
        requests.delete(
            f"http://127.0.0.1:{port}/personalizer/v1.0/logs",
            headers={"Ocp-Apim-Subscription-Key": KEY},
            timeout=30,
        ).raise_for_status()
        requests.delete(
            f"http://127.0.0.1:{port}/personalizer/v1.0/model",
            headers={"Ocp-Apim-Subscription-Key": KEY},
            timeout=30,
        ).raise_for_status()
        ranked: set[str] = set()
        rewarded: dict[str, float] = {}
        for round_no in range(args.kills):
            answered = load_then_kill(port, process, round_no, args)
            ranked |= answered.ranked
            rewarded.update(answered.rewarded)
            print(
                f"kill -9 #{round_no + 1}: {len(answered.ranked)} ranks and {len(answered.rewarded)} rewards answered"
            )
            process = start_service(database_url, port)
        started = time.monotonic()
        wait_learned(database_url, set(rewarded), timeout=120)
        print(f"restarted; every answered reward learned within {time.monotonic() - started:.1f} s")
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        report = verify(database_url, ranked, rewarded)
    database = "PostgreSQL" if args.postgres else "SQLite"
    print(
        f"\n{args.kills} x kill -9 after {args.load_seconds} s of load from {args.clients} clients, {database}\n"
    )
    print("| check | count |\n|---|---:|")
    for name, count in report.items():
        print(f"| {name} | {count} |")
    ok = (
        report["events missing from the log"] == 0
        and report["204 rewards missing"] == 0
        and report["204 rewards not learned (or wrong value)"] == 0
        and report["events marked learned"] == report["examples the model learned"]
    )
    print(f"\n{'PASS' if ok else 'FAIL'}: {len(rewarded)} rewards answered 204 checked")
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()

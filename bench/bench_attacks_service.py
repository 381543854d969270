"""Attacks on `python app.py personalizer`, by class: what the attacker got, what a bystander saw, memory.

A bystander ranks and rewards the Personalizer quickstart's menu in a loop for the whole run; each attack runs beside it for a
bounded time. Per attack: the attacker's answers by status, 5xx answers (attacker's and bystander's), the
worst rank+reward latency the bystander saw during the attack, and the service's RSS before and after.
Then kill -9s under load, and storage faults (service_faults.py): as root on SQLite a full disk and storage
turning read-only, on PostgreSQL the database turning read-only. Every reward answered 204 must be stored and
learned once.

    .venv/bin/python bench/bench_attacks_service.py                 # SQLite, about 2 minutes
    .venv/bin/python bench/bench_attacks_service.py --postgres postgresql://postgres@127.0.0.1:55432/pz_attacks
Loopback only; stops by itself.
"""

from __future__ import annotations

import argparse
import http.client
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import bench_service_kill as kill_bench  # noqa: E402
import service_attacks  # noqa: E402
import service_faults  # noqa: E402
from bench_service_load import free_port  # noqa: E402
from service_faults import Bystander, full_disk, postgres_read_only, read_only  # noqa: E402

PREFIX = service_attacks.PREFIX
HEADERS = service_attacks.HEADERS
MB = 1024 * 1024


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=8.0, help="each attack's duration")
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--postgres", default=os.environ.get("BENCH_DATABASE_URL", ""))
    args = parser.parse_args()
    rows: list[str] = []
    started: list[subprocess.Popen[bytes]] = []
    try:
        run(args, rows, started)
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()


def run(args: argparse.Namespace, rows: list[str], started: list[subprocess.Popen[bytes]]) -> None:
    """The attacks, the kills and the disk fault; prints the tables."""
    with tempfile.TemporaryDirectory() as tmp:
        database_url = args.postgres or f"sqlite:///{tmp}/attacks.db"
        port = free_port()
        process = kill_bench.start_service(database_url, port)
        started.append(process)
        bystander = Bystander(port)
        thread = threading.Thread(target=bystander.run, daemon=True)
        thread.start()
        time.sleep(2)
        for name, attack in service_attacks.ATTACKS:
            before = rss(process.pid)
            start = time.monotonic()
            outcomes = attack(port, args.seconds)
            end = time.monotonic()
            time.sleep(1)
            pairs, worst, byst_5xx = bystander.window(start, end)
            after = rss(process.pid)
            attacker_5xx = sum(v for k, v in outcomes.items() if k >= 500)
            rows.append(
                f"| {name} | {service_faults.by_status(outcomes)} | {attacker_5xx + byst_5xx} | {pairs} | {worst * 1000:.0f} ms | "
                f"{before / MB:.0f} → {after / MB:.0f} MB |"
            )
            print(rows[-1], flush=True)
        bystander.stop.set()
        thread.join(timeout=30)
        healthz = service_faults.healthz(port)
        kill_bench.wait_learned(database_url, set(bystander.rewarded), timeout=60)
        process.terminate()
        process.wait(timeout=30)
        report = kill_bench.verify(database_url, set(), bystander.rewarded)
        kills = argparse.Namespace(clients=8, load_seconds=3.0)
        ranked: set[str] = set()
        rewarded: dict[str, float] = {}
        process = kill_bench.start_service(database_url, port)
        started.append(process)
        for path in ("/logs", "/model"):  # a fresh log and model: "learned once" counts from here
            reset = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            reset.request("DELETE", PREFIX + path, headers=HEADERS)
            reset.getresponse().read()
            reset.close()
        for round_no in range(args.kills):
            answered = kill_bench.load_then_kill(port, process, round_no, kills)
            ranked |= answered.ranked
            rewarded.update(answered.rewarded)
            process = kill_bench.start_service(database_url, port)
            started.append(process)
        kill_bench.wait_learned(database_url, set(rewarded), timeout=120)
        process.terminate()
        process.wait(timeout=30)
        killed = kill_bench.verify(database_url, ranked, rewarded)
    database = "PostgreSQL" if args.postgres else "SQLite"
    print(f"\n{database}, {args.seconds:.0f} s per attack, one bystander rank+reward pair every 20 ms\n")
    print("| attack | attacker's answers | 5xx | bystander pairs | bystander's worst | RSS before → after |")
    print("|---|---|---:|---:|---:|---|")
    print("\n".join(rows))
    print(
        f"\n/healthz after the attacks: {healthz}. Bystander: {report['rewards answered 204']} rewards answered 204, "
        f"{report['204 rewards missing']} missing, {report['204 rewards not learned (or wrong value)']} not learned once."
    )
    print(
        f"\n{args.kills} x kill -9 under load: {killed['ranks answered 201']} ranks and {killed['rewards answered 204']} "
        f"rewards answered; {killed['events missing from the log']} events and {killed['204 rewards missing']} rewards "
        f"missing, {killed['204 rewards not learned (or wrong value)']} not learned once; {killed['events marked learned']} "
        f"events marked learned, {killed['examples the model learned']} learned by the model."
    )
    if args.postgres:
        faults = postgres_read_only(args.postgres, args.seconds, started)
    else:
        faults = [*(full_disk(args.seconds, started) or []), *(read_only(args.seconds, started) or [])]
    if faults:
        print("\n| fault | what the bystander got | recovery | rewards |\n|---|---|---|---|")
        print("\n".join(faults))


if __name__ == "__main__":
    main()

"""Attacks on `python app.py personalizer`, by class: what the attacker got, what a bystander saw, memory.

A bystander ranks and rewards the Personalizer quickstart's menu in a loop for the whole run; each attack runs beside it for a
bounded time. Per attack: the attacker's answers by status, 5xx answers (attacker's and bystander's), the
worst rank+reward latency the bystander saw during the attack, and the service's RSS before and after.
Then kill -9s under load and, as root, a full disk and storage that turns read-only: every reward answered
204 must be stored and learned once.

    .venv/bin/python bench/bench_attacks_service.py                 # SQLite, about 2 minutes
    .venv/bin/python bench/bench_attacks_service.py --postgres postgresql://postgres@127.0.0.1:55432/pz_attacks
Loopback only; stops by itself.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import bench_service_kill as kill_bench  # noqa: E402
import service_attacks  # noqa: E402
from bench_service_load import free_port  # noqa: E402

PREFIX = service_attacks.PREFIX
HEADERS = service_attacks.HEADERS
MB = 1024 * 1024


@dataclass
class Bystander:
    """Rank+reward pairs in a loop; each pair's end time, latency and whether it failed with a 5xx."""

    port: int
    pairs: list[tuple[float, float, int]] = field(default_factory=list)
    rewarded: dict[str, float] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        n = 0
        while not self.stop.is_set():
            n += 1
            event_id = f"bystander-{uuid.uuid4().hex}"
            started = time.monotonic()
            try:
                status = service_attacks.request(
                    connection, "POST", "/rank", dict(kill_bench.RANK_BODY, eventId=event_id)
                )
                if status == 201:
                    value = float(n % 2)
                    status = service_attacks.request(
                        connection, "POST", f"/events/{event_id}/reward", {"value": value}
                    )
                    if status == 204:
                        self.rewarded[event_id] = value
            except (OSError, http.client.HTTPException):
                status = 599
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.pairs.append((time.monotonic(), time.monotonic() - started, status))
            time.sleep(0.02)

    def window(self, start: float, end: float) -> tuple[int, float, int]:
        """Pairs, the worst latency and the 5xx count between two instants."""
        seen = [p for p in self.pairs if start <= p[0] <= end + 30]
        seen = [p for p in seen if p[0] - p[1] <= end]
        return len(seen), max((p[1] for p in seen), default=0.0), sum(1 for p in seen if p[2] >= 500)


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _outcomes(counter: collections.Counter[int]) -> str:
    names = {0: "closed", -1: "cut off"}
    return ", ".join(f"{names.get(k, k)}: {v}" for k, v in sorted(counter.items()))


def full_disk(seconds: float, started: list[subprocess.Popen[bytes]]) -> list[str] | None:
    """As root: the service on a 48 MB tmpfs, filled to the last byte, then freed. Returns table rows."""
    if os.geteuid() != 0:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        disk = Path(tmp) / "disk"
        disk.mkdir()
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(disk)]).returncode:
            return None

        def fill() -> None:
            with (disk / "filler").open("wb") as handle:
                try:
                    while True:
                        handle.write(b"\0" * 65536)
                        handle.flush()
                except OSError:
                    pass

        try:
            url = f"sqlite:///{disk}/pz.db"
            row = _storage_fault(url, url, seconds, started, fill, (disk / "filler").unlink)
        finally:
            subprocess.run(["umount", "-l", str(disk)], check=False)
    return [f"| full disk for {seconds:.0f} s (48 MB tmpfs) | {row}"]


def read_only(seconds: float, started: list[subprocess.Popen[bytes]]) -> list[str] | None:
    """As root: the service's storage refuses writes (a FUSE mirror, tests/support/read_only_switch.py; Linux
    will not remount a file system read-only while the service holds files on it open), then takes them."""
    sys.path.insert(0, str(ROOT / "tests" / "support"))
    from read_only_switch import ReadOnlySwitch, available

    if available():
        return None
    with (
        tempfile.TemporaryDirectory() as tmp,
        ReadOnlySwitch(Path(tmp) / "disk", Path(tmp) / "mirror") as switch,
    ):
        row = _storage_fault(
            f"sqlite:///{switch.mountpoint}/pz.db",
            f"sqlite:///{tmp}/disk/pz.db",
            seconds,
            started,
            lambda: switch.read_only(True),
            lambda: switch.read_only(False),
        )
    return [f"| read-only storage for {seconds:.0f} s (FUSE) | {row}"]


def _storage_fault(
    database_url: str,
    check_url: str,
    seconds: float,
    started: list[subprocess.Popen[bytes]],
    fault: Callable[[], None],
    repair: Callable[[], None],
) -> str:
    """The service beside a bystander through `fault()`, `seconds`, `repair()`: the rest of a table row."""
    port = free_port()
    process = kill_bench.start_service(database_url, port)
    started.append(process)
    bystander = Bystander(port)
    thread = threading.Thread(target=bystander.run, daemon=True)
    thread.start()
    time.sleep(1)
    began = time.monotonic()
    fault()
    time.sleep(seconds)
    healthz = _healthz(port)
    repair()
    freed = time.monotonic()
    recovered = None
    while time.monotonic() - freed < 30:
        recent = [p for p in bystander.pairs if p[0] > freed + 0.1]
        if recent and recent[-1][2] in (201, 204):
            recovered = recent[-1][0] - freed
            break
        time.sleep(0.2)
    time.sleep(2)
    bystander.stop.set()
    thread.join(timeout=30)
    refused = collections.Counter(p[2] for p in bystander.pairs if began <= p[0] <= freed)
    healthz_after = _healthz(port)
    kill_bench.wait_learned(database_url, set(bystander.rewarded), timeout=60)
    process.terminate()
    process.wait(timeout=30)
    report = kill_bench.verify(check_url, set(), bystander.rewarded)
    recovery = f"in {recovered:.1f} s" if recovered is not None else "NOT within 30 s"
    return (
        f"bystander meanwhile: {_outcomes(refused)}; /healthz {healthz} | served again {recovery}, "
        f"/healthz {healthz_after} 2 s later | "
        f"{report['rewards answered 204']} rewards answered 204: {report['204 rewards missing']} missing, "
        f"{report['204 rewards not learned (or wrong value)']} not learned once; "
        f"{report['events marked learned']} marked learned, {report['examples the model learned']} learned by the model |"
    )


def _healthz(port: int) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request("GET", "/healthz")
    return connection.getresponse().status


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
                f"| {name} | {_outcomes(outcomes)} | {attacker_5xx + byst_5xx} | {pairs} | {worst * 1000:.0f} ms | "
                f"{before / MB:.0f} → {after / MB:.0f} MB |"
            )
            print(rows[-1], flush=True)
        bystander.stop.set()
        thread.join(timeout=30)
        healthz = _healthz(port)
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
    faults = (
        []
        if args.postgres
        else [*(full_disk(args.seconds, started) or []), *(read_only(args.seconds, started) or [])]
    )
    if faults:
        print("\n| fault | what the bystander got | recovery | rewards |\n|---|---|---|---|")
        print("\n".join(faults))


if __name__ == "__main__":
    main()

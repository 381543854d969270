"""The storage faults of bench_attacks_service.py, and the bystander every part of it runs beside.

As root, SQLite: the service on a 48 MB tmpfs filled to its last byte, then freed; and its storage turning
read-only (a FUSE mirror that refuses writes, tests/support/read_only_switch.py: Linux will not remount a file
system read-only while the service holds files on it open), then writable. PostgreSQL: its database turning
read-only (`default_transaction_read_only`, its sessions ended as a failover to a standby ends them), then
writable again with the sessions kept. Each fault lasts `seconds` beside a bystander; every reward answered
204 must be stored and learned once.
"""

from __future__ import annotations

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

import bench_service_kill as kill_bench
import service_attacks
from bench_service_load import free_port
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.db import create_database_engine

ROOT = Path(__file__).resolve().parents[1]
PREFIX = service_attacks.PREFIX
HEADERS = service_attacks.HEADERS


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


def by_status(counter: collections.Counter[int]) -> str:
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
    _fresh_log(port)
    bystander = Bystander(port)
    thread = threading.Thread(target=bystander.run, daemon=True)
    thread.start()
    time.sleep(1)
    began = time.monotonic()
    fault()
    time.sleep(seconds)
    during = healthz(port)
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
    after = healthz(port)
    kill_bench.wait_learned(database_url, set(bystander.rewarded), timeout=60)
    process.terminate()
    process.wait(timeout=30)
    report = kill_bench.verify(check_url, set(), bystander.rewarded)
    recovery = f"in {recovered:.1f} s" if recovered is not None else "NOT within 30 s"
    return (
        f"bystander meanwhile: {by_status(refused)}; /healthz {during} | served again {recovery}, "
        f"/healthz {after} 2 s later | "
        f"{report['rewards answered 204']} rewards answered 204: {report['204 rewards missing']} missing, "
        f"{report['204 rewards not learned (or wrong value)']} not learned once; "
        f"{report['events marked learned']} marked learned, {report['examples the model learned']} learned by the model |"
    )


def postgres_read_only(
    database_url: str, seconds: float, started: list[subprocess.Popen[bytes]]
) -> list[str]:
    """PostgreSQL: the service's database turns read-only (its sessions ended), then writable (sessions kept)."""
    row = _storage_fault(
        database_url,
        database_url,
        seconds,
        started,
        lambda: _pg_read_only(database_url, True),
        lambda: _pg_read_only(database_url, False),
    )
    return [f"| read-only database for {seconds:.0f} s (PostgreSQL) | {row}"]


def _pg_read_only(database_url: str, read_only: bool) -> None:
    url = make_url(database_url)
    admin = create_database_engine(
        url.set(database="postgres").render_as_string(hide_password=False), isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as conn:
            change = (
                "SET default_transaction_read_only = on"
                if read_only
                else "RESET default_transaction_read_only"
            )
            conn.execute(text(f'ALTER DATABASE "{url.database}" {change}'))
            if read_only:
                conn.execute(
                    text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
                    {"name": url.database},
                )
    finally:
        admin.dispose()


def _fresh_log(port: int) -> None:
    """A fresh log and model: "learned once" counts from here (on PostgreSQL the database is the attacks')."""
    deadline = time.monotonic() + 30
    while True:
        try:
            if healthz(port) == 200:
                break
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("the service did not start")
        time.sleep(0.2)
    for path in ("/logs", "/model"):
        reset = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        reset.request("DELETE", PREFIX + path, headers=HEADERS)
        reset.getresponse().read()
        reset.close()


def healthz(port: int) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request("GET", "/healthz")
    return connection.getresponse().status

"""Storage faults while serving: a full disk or storage turning read-only is a 503 with a clear message,
/healthz says so, and the service recovers by itself once space returns or writes are taken again, with
nothing acknowledged lost; a read-only database at start is a clear error.

Linux refuses `mount -o remount,ro` while a process holds a file open for writing (the service always does),
so storage turning read-only under it is a FUSE mirror that starts refusing writes (read_only_switch.py)."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hostile_service import Service, bystander_pairs, rank_body, stored_rewards
from read_only_switch import ReadOnlySwitch, available
from sqlalchemy.engine import make_url


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 48 MB tmpfs of the test's own (needs root: skipped elsewhere)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if (
        os.geteuid() != 0
        or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(disk)]).returncode
    ):
        pytest.skip("mounting a small file system needs root")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def _fill(disk: Path) -> Path:
    """Fill the file system up to its last byte; returns the filler file."""
    filler = disk / "filler"
    with filler.open("wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass
    return filler


def _remount(disk: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(disk)], check=True)


def _until_refused(service: Service, tries: int = 3000) -> tuple[int, dict[str, str]]:
    """Rank+reward pairs until the service refuses one; returns its status and error body."""
    for _ in range(tries):
        event_id = uuid.uuid4().hex
        body = rank_body(event_id)
        body["contextFeatures"] = [{"padding": "p" * 2000, "n": event_id}]
        answer = service.post("/rank", body)
        if answer.status_code != 201:
            return answer.status_code, answer.json()["error"]
    raise AssertionError("the disk never filled")


def _recovers(service: Service, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        event_id = uuid.uuid4().hex
        if (
            service.post("/rank", rank_body(event_id)).status_code == 201
            and service.health().status_code == 200
        ):
            return
        time.sleep(0.5)
    raise AssertionError(f"the service did not recover:\n{service.log()[-3000:]}")


def test_a_full_disk_is_a_503_and_recovers_by_itself(small_disk: Path) -> None:
    service = Service(f"sqlite:///{small_disk}/pz.db")
    try:
        service.wait_healthy()
        before = bystander_pairs(service, count=10)
        filler = _fill(small_disk)
        status, error = _until_refused(service)
        assert status == 503, error
        assert "storage" in error["message"] or "disk" in error["message"], error
        health = service.health()
        assert health.status_code == 503, health.text
        assert "writer" in health.text or "log" in health.text
        filler.unlink()
        deadline = time.monotonic() + 15  # healthy again by itself, with no client writing meanwhile
        while service.health().status_code != 200:
            assert time.monotonic() < deadline, service.health().text
            time.sleep(0.2)
        _recovers(service)
        after = bystander_pairs(service, count=20)
        assert stored_rewards(service.database_url, before + after) == {e: 1 for e in before + after}
        wal = small_disk / "pz.db-wal"
        deadline = time.monotonic() + 30
        while wal.exists() and wal.stat().st_size > 16 * 1024 * 1024 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not wal.exists() or wal.stat().st_size <= 16 * 1024 * 1024, "the WAL was never truncated"
    finally:
        log = service.stop()
    assert "Traceback" not in log, log


def test_a_read_only_database_at_start_is_a_clear_error(small_disk: Path) -> None:
    first = Service(f"sqlite:///{small_disk}/pz.db")
    first.wait_healthy()
    first.stop()
    _remount(small_disk, "ro")
    service = Service(f"sqlite:///{small_disk}/pz.db")
    try:
        code = service.process.wait(timeout=30)
    finally:
        log = service.stop()
    assert code != 0
    assert "read-only" in log, log
    assert "Traceback" not in log, log


@pytest.fixture
def switch(tmp_path: Path) -> Iterator[ReadOnlySwitch]:
    """A folder that turns read-only on demand, its files open or not (needs root and FUSE)."""
    missing = available()
    if missing:
        pytest.skip(missing)
    with ReadOnlySwitch(tmp_path / "backing", tmp_path / "mirror") as mounted:
        yield mounted


def test_storage_turning_read_only_while_serving_is_a_503_and_recovers_by_itself(
    switch: ReadOnlySwitch, tmp_path: Path
) -> None:
    service = Service(f"sqlite:///{switch.mountpoint}/pz.db")
    try:
        service.wait_healthy()
        before = bystander_pairs(service, count=10)
        switch.read_only(True)
        answers = []
        for _ in range(20):  # ranks and rewards of known events alike are refused, never a 5xx but 503
            event_id = before[len(answers) % len(before)]
            answers.append(service.post("/rank", rank_body(uuid.uuid4().hex)))
            answers.append(service.post(f"/events/{event_id}/reward", {"value": 0.5}))
        assert {answer.status_code for answer in answers} == {503}, [a.text for a in answers]
        messages = {answer.json()["error"]["message"] for answer in answers}
        assert any("read-only" in message for message in messages), messages
        health = service.health()
        assert health.status_code == 503 and "read-only" in health.text, health.text
        switch.read_only(False)
        deadline = time.monotonic() + 15  # healthy again by itself, with no client writing meanwhile
        while service.health().status_code != 200:
            assert time.monotonic() < deadline, service.health().text
            time.sleep(0.2)
        _recovers(service)
        after = bystander_pairs(service, count=20)
        time.sleep(3)  # a training round and a checkpoint after recovery: they must not fail either
        assert service.health().status_code == 200, service.health().text
    finally:
        log = service.stop()
    stored = stored_rewards(f"sqlite:///{tmp_path}/backing/pz.db", before + after)
    assert stored == {e: 1 for e in before + after}  # the refused rewards were not kept: each 204 once
    assert "Traceback" not in log, log


def _set_read_only(database_url: str, read_only: bool, drop_sessions: bool) -> None:
    """This database only (the server is shared): new sessions start read-only, or writable again; and
    with `drop_sessions` its open sessions are ended, as a failover to a standby ends them."""
    from sqlalchemy import text

    from bot.db import create_database_engine

    url = make_url(database_url)
    name = url.database
    admin = create_database_engine(
        url.set(database="postgres").render_as_string(False), isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as conn:
            setting = (
                "SET default_transaction_read_only = on"
                if read_only
                else "RESET default_transaction_read_only"
            )
            conn.execute(text(f'ALTER DATABASE "{name}" {setting}'))
            if drop_sessions:
                conn.execute(
                    text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
                    {"name": name},
                )
    finally:
        admin.dispose()


@pytest.mark.postgres
def test_a_postgresql_turning_read_only_while_serving_is_a_503_and_recovers_by_itself(
    fresh_database: Callable[[str], str],
) -> None:
    database_url = fresh_database("postgresql")
    service = Service(database_url)
    try:
        service.wait_healthy()
        before = bystander_pairs(service, count=10)
        _set_read_only(database_url, True, drop_sessions=True)  # a failover to a read-only standby
        answers = [service.post("/rank", rank_body(uuid.uuid4().hex)) for _ in range(10)]
        answers += [service.post(f"/events/{event_id}/reward", {"value": 0.5}) for event_id in before]
        assert {answer.status_code for answer in answers} == {503}, [a.text for a in answers]
        messages = {answer.json()["error"]["message"] for answer in answers}
        assert any("read-only" in message for message in messages), messages
        deadline = time.monotonic() + 10
        while service.health().status_code != 503:  # the trainer's next round finds out too
            assert time.monotonic() < deadline, service.health().text
            time.sleep(0.2)
        assert "read-only" in service.health().text
        _set_read_only(database_url, False, drop_sessions=False)  # writable again, sessions kept
        deadline = time.monotonic() + 20
        while service.health().status_code != 200:
            assert time.monotonic() < deadline, service.health().text
            time.sleep(0.2)
        _recovers(service)
        after = bystander_pairs(service, count=20)
        time.sleep(3)  # a training round after recovery: it must not fail either
        assert service.health().status_code == 200, service.health().text
    finally:
        log = service.stop()
        _set_read_only(database_url, False, drop_sessions=False)
    assert stored_rewards(database_url, before + after) == {e: 1 for e in before + after}
    assert "Traceback" not in log, log

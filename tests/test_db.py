"""bot.db on SQLite: a checkpoint starts the WAL over while writes go on, and loses none of them."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

from sqlalchemy import Engine, text

from bot.db import checkpoint, create_database_engine, write_lock


def wal_generation(database: Path | str) -> int:
    """The WAL header's checkpoint sequence number: SQLite adds one each time the WAL starts over."""
    with open(f"{database}-wal", "rb") as wal:
        return int.from_bytes(wal.read(16)[12:16], "big")


class SteadyWriter(threading.Thread):
    """Commits rows of random keys back to back, behind the writers' lock, until stopped."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(daemon=True)
        self.engine, self.lock = engine, write_lock(engine)
        self.rows = 0
        self.halt = threading.Event()

    def run(self) -> None:
        insert = text("INSERT INTO log (id, body) VALUES (:id, randomblob(1000))")
        while not self.halt.is_set():
            with self.lock(), self.engine.begin() as conn:
                conn.execute(insert, [{"id": uuid.uuid4().hex} for _ in range(20)])
            self.rows += 20


def test_a_checkpoint_with_the_writers_lock_starts_the_wal_over_while_writes_go_on(tmp_path: Path) -> None:
    database = tmp_path / "steady.db"
    engine = create_database_engine(f"sqlite:///{database}", autocheckpoint=False)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE log (id TEXT PRIMARY KEY, body BLOB NOT NULL)"))
    writer = SteadyWriter(engine)
    writer.start()
    try:
        deadline = time.monotonic() + 30
        while (tmp_path / "steady.db-wal").stat().st_size < 4_000_000 and time.monotonic() < deadline:
            time.sleep(0.01)
        generation = wal_generation(database)
        checkpoint(engine, write_lock(engine))
        deadline = time.monotonic() + 10
        while wal_generation(database) == generation and time.monotonic() < deadline:
            time.sleep(0.01)  # the writer's next commit writes the new WAL header
        assert wal_generation(database) > generation
    finally:
        writer.halt.set()
        writer.join(timeout=10)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM log")).scalar() == writer.rows
        assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    engine.dispose()


def test_threads_sharing_one_write_lock_take_turns(tmp_path: Path) -> None:
    """flock() does not exclude threads that share its file handle: the lock must still take turns, or a
    process's writers meet inside SQLite's busy handler, which sleeps 1 to 100 ms between tries."""
    engine = create_database_engine(f"sqlite:///{tmp_path / 'turns.db'}")
    lock = write_lock(engine)
    inside, overlaps = [0], [0]
    guard = threading.Lock()

    def hold() -> None:
        for _ in range(20):
            with lock():
                with guard:
                    inside[0] += 1
                    overlaps[0] += inside[0] > 1
                time.sleep(0.002)
                with guard:
                    inside[0] -= 1

    threads = [threading.Thread(target=hold) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert overlaps == [0]
    engine.dispose()

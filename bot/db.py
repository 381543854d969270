"""SQLAlchemy engines for DATABASE_URL: SQLite (WAL, the default) or PostgreSQL."""

from __future__ import annotations

import contextlib
import fcntl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, MetaData, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError

BUSY_TIMEOUT_MS = 30_000
# Passive checkpoint passes before the last one: at most this many, until one takes less than this long.
CHECKPOINT_PASSES = 10
CHECKPOINT_CAUGHT_UP = 0.010
# A WAL larger than this is truncated, not just restarted, by the locked pass of a checkpoint, so that disk
# space it took during a burst (or while the disk was full) comes back; smaller ones are reused in place.
WAL_TRUNCATE_BYTES = 64 * 1024 * 1024
# Plan each statement for its own parameters. psycopg prepares a statement on its fifth run, and PostgreSQL
# then kept a generic plan made while the tables were nearly empty: a sequential scan of the event log for
# every reward, until autovacuum next analyzed the table (about a minute into the load benchmark)
# (tests/learner/test_postgres.py).
POSTGRES_OPTIONS = "-c plan_cache_mode=force_custom_plan"
READ_ONLY_TRANSACTION = "25006"  # PostgreSQL's SQLSTATE for a write in a read-only transaction


def create_database_engine(url: str, *, autocheckpoint: bool = True, **kwargs: Any) -> Engine:
    """An engine for `url`; SQLite files get WAL, a busy timeout and their folder created.

    autocheckpoint=False leaves WAL checkpoints to the caller (see `checkpoint`), keeping their fsync
    off the commit path of latency-sensitive writers.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        if not autocheckpoint:
            event.listen(engine, "connect", _no_autocheckpoint)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if parsed.get_backend_name() == "postgresql":
        kwargs["connect_args"] = {"options": postgres_options(parsed), **kwargs.get("connect_args", {})}
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    engine = create_engine(url, pool_pre_ping=True, **kwargs)
    if parsed.get_backend_name() == "postgresql":
        event.listen(engine, "handle_error", _read_only_session_is_stale)
    return engine


def _read_only_session_is_stale(context: Any) -> None:
    # A session that started read-only (on a standby after a failover, or while the database was set
    # read-only) stays so: dropping the pool's connections lets the next ones find out whether the server
    # takes writes again, instead of failing every write for as long as the pool keeps them.
    if getattr(context.original_exception, "sqlstate", None) == READ_ONLY_TRANSACTION:
        context.is_disconnect = True


def postgres_options(url: URL) -> str:
    """The server options for a PostgreSQL connection: POSTGRES_OPTIONS, then any the URL gives (which win)."""
    given = url.query.get("options", "")
    return f"{POSTGRES_OPTIONS} {given if isinstance(given, str) else ' '.join(given)}".strip()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the one writer; synchronous=NORMAL keeps every commit through a
    # kill -9 (the WAL is written before COMMIT returns) without an fsync per commit.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    # After a checkpoint restarts the WAL, the next writer cuts the file down to this size.
    cursor.execute(f"PRAGMA journal_size_limit={WAL_TRUNCATE_BYTES}")
    cursor.close()


def _no_autocheckpoint(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")


def checkpoint(engine: Engine, lock: Callable[[], AbstractContextManager[None]] | None = None) -> None:
    """Copy SQLite's WAL into the database file; with the writers' `lock`, then start the WAL over.

    Passive passes copy while commits go on, until one is quick (the copy has caught up). Under steady load
    that is all they can do: commits keep adding frames, the WAL never restarts, and every write gets dearer
    as it grows (2.5 GB after 90 s of the load benchmark). So, given the lock, a last pass copies the few
    frames left while no commit can add more, and restarts the WAL without waiting for readers (truncating
    it when it is over WAL_TRUNCATE_BYTES); if one still reads an older snapshot, the restart waits for the
    next checkpoint. No-op on other databases.
    """
    if not is_sqlite(engine):
        return
    with engine.connect() as conn:
        for _ in range(CHECKPOINT_PASSES):
            started = time.monotonic()
            conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
            if time.monotonic() - started < CHECKPOINT_CAUGHT_UP:
                break
        if lock is None:
            return
        conn.exec_driver_sql("PRAGMA busy_timeout=0")  # answer at once rather than wait inside the lock
        try:
            mode = "TRUNCATE" if wal_bytes(engine) > WAL_TRUNCATE_BYTES else "RESTART"
            with lock():
                conn.exec_driver_sql(f"PRAGMA wal_checkpoint({mode})")
        finally:
            conn.exec_driver_sql(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


def wal_bytes(engine: Engine) -> int:
    """The size of a SQLite file's WAL (0 when there is none)."""
    database = engine.url.database
    if not is_sqlite(engine) or not database or database == ":memory:":
        return 0
    try:
        return Path(f"{database}-wal").stat().st_size
    except OSError:
        return 0


def write_lock(engine: Engine) -> Callable[[], AbstractContextManager[None]]:
    """A lock that every process writing to the same SQLite file takes around its write transactions.

    SQLite's own busy handler sleeps 1..100 ms between retries while another connection holds the write
    lock; a blocked flock() wakes as soon as the lock is released, so the wait is the other commit only.
    Elsewhere (PostgreSQL, in-memory SQLite) it is a no-op: the database orders the writers itself.
    Threads that share the returned lock take turns too: flock() alone lets every holder of its handle in.
    """
    database = engine.url.database
    if not is_sqlite(engine) or not database or database == ":memory:":
        return contextlib.nullcontext
    handle = open(f"{database}.write-lock", "a")  # noqa: SIM115 - held for the lock's life
    among_threads = threading.Lock()

    @contextlib.contextmanager
    def locked() -> Iterator[None]:
        with among_threads:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    return locked


def driver_mark(engine: Engine) -> str:
    """The driver's positional parameter mark, for SQL sent as written (exec_driver_sql, DBAPI cursors)."""
    return "?" if engine.dialect.paramstyle == "qmark" else "%s"


def is_sqlite(engine: Engine) -> bool:
    """True when the engine talks to SQLite."""
    return engine.dialect.name == "sqlite"


def create_tables(metadata: MetaData, engine: Engine, attempts: int = 5) -> None:
    """Create the missing tables of `metadata`, and indexes added to tables made before; safe when
    several processes start together.

    create_all checks, then creates: another process may create a table in between, and our CREATE then
    fails. Looking again (and creating whatever is still missing) settles it.
    """
    for attempt in range(attempts):
        try:
            metadata.create_all(engine, checkfirst=True)
            for table in metadata.sorted_tables:
                for index in table.indexes:
                    index.create(engine, checkfirst=True)
            return
        except DBAPIError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))

"""Which process trains: at most one per database, a PostgreSQL advisory lock or a file lock beside SQLite."""

from __future__ import annotations

import fcntl
import logging
from typing import IO

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

logger = logging.getLogger(__name__)
ADVISORY_LOCK_KEY = 0x5A_F0_0D  # one trainer per PostgreSQL database


class Leadership:
    """At most one training process per database: a PostgreSQL advisory lock, or a file lock beside SQLite."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Connection | None = None
        self._file: IO[str] | None = None
        self.held = False

    def try_acquire(self) -> bool:
        """Take the lead if nobody holds it; True while this process holds it."""
        if self.held:
            return self._still_held()
        dialect = self._engine.dialect.name
        if dialect == "postgresql":
            try:
                self._connection = self._engine.connect()
                got = self._connection.execute(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
                ).scalar()
                self._connection.commit()
            except SQLAlchemyError:
                logger.warning("could not ask PostgreSQL for the trainer lock")
                self._drop_connection()
                return False
            if not got:
                self._drop_connection()
            self.held = bool(got)
        elif dialect == "sqlite" and self._engine.url.database not in (None, "", ":memory:"):
            handle = open(f"{self._engine.url.database}.trainer-lock", "a")  # noqa: SIM115 - held for life
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                return False
            self._file, self.held = handle, True
        else:
            self.held = True
        return self.held

    def release(self) -> None:
        """Give the lead up (also happens when the process dies)."""
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
        self._drop_connection()
        self.held = False

    def _still_held(self) -> bool:
        if self._connection is None:
            return True
        try:
            self._connection.execute(text("SELECT 1"))
            self._connection.commit()
            return True
        except SQLAlchemyError:
            logger.warning("lost the connection that held the trainer lock")
            self._drop_connection()
            self.held = False
            return False

    def _drop_connection(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except SQLAlchemyError:
                pass
            self._connection = None

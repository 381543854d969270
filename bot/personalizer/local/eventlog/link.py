"""The writer thread's DBAPI connection: opened on first use, dropped after an error, pinged after idling."""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy import Engine

from bot.personalizer.local.eventlog import batch as shared

logger = logging.getLogger(__name__)


class Link:
    """One DBAPI connection of the writer's: opened on first use, dropped after an error, and pinged (the
    dialect's own ping) before use after IDLE_PING seconds unused, so that a database restart while the
    service was idle costs no request. A connection lost while busy still fails one transaction: retrying it
    could store a write twice, if its commit had landed. In autocommit (PostgreSQL, where a batch is one
    statement) the connection is the writer's own, not the pool's."""

    def __init__(self, engine: Engine, autocommit: bool = False) -> None:
        self._engine = engine
        self._autocommit = autocommit
        self._connection: Any = None
        self._used = 0.0

    def connect(self) -> Any:
        """The open connection, reopened or pinged first when needed."""
        now = time.monotonic()
        if self._connection is not None and now - self._used > shared.IDLE_PING:
            dialect = self._engine.dialect
            try:
                dialect.do_ping(self._connection.dbapi_connection)
            except dialect.loaded_dbapi.Error:
                logger.info("the writer's idle database connection was gone; opening another")
                self.drop(invalidate=True)
        if self._connection is None:
            connection: Any = self._engine.raw_connection()
            if self._autocommit:
                connection.detach()  # never back to the pool in autocommit: closed when dropped
                connection.dbapi_connection.autocommit = True
            self._connection = connection
        self._used = now
        return self._connection

    def drop(self, invalidate: bool) -> None:
        """Close the connection (invalidated after an error: never back to the pool)."""
        if self._connection is None:
            return
        try:
            if invalidate:
                self._connection.invalidate()
            else:
                self._connection.close()
        except Exception:  # a broken connection may fail to close; it is dropped either way
            logger.debug("closing the writer's connection failed", exc_info=True)
        self._connection = None

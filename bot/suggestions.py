"""The suggestions the bot has shown, in the database, so a click works in any process and counts once."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Engine,
    Float,
    Index,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    case,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError

from bot.db import create_tables, is_sqlite

metadata = MetaData()

suggestions_table = Table(
    "slack_suggestions",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("requester", String(64), nullable=False),
    Column("channel", String(64)),
    Column("dish", String(256), nullable=False),
    Column("taste", String(32), nullable=False),
    Column("time_of_day", String(32), nullable=False),
    Column("ranking", Text, nullable=False),  # JSON [[dish, probability], ...] to redraw the message
    Column("excluded", Text, nullable=False),  # JSON: what this rank excluded (menu + rejected)
    Column("rejected", Text, nullable=False),  # JSON: dishes turned down earlier in this chain
    Column("vote", Float),  # NULL until the requester votes; claimed atomically
    Column("retried", Boolean, nullable=False, default=False),  # "Try another" used (claimed atomically)
    Column("created_at", Float, nullable=False),
    # The Home tab reads a person's newest suggestions; a suggestion's "why" reads their history with a
    # dish, from the index alone (it covers the query), so it stays cheap as the history grows.
    Index("ix_slack_suggestions_requester", "requester", "created_at"),
    Index("ix_slack_suggestions_dish", "requester", "dish", "created_at", "taste", "time_of_day", "vote"),
)

# One row per menus message whose Suggest was clicked: a double click ranks once.
suggest_clicks_table = Table(
    "slack_suggest_clicks",
    metadata,
    Column("click_key", String(160), primary_key=True),  # "<message ts>:<user id>"
    Column("created_at", Float, nullable=False),
)


class StorageUnavailable(Exception):
    """The database cannot be read or written right now (read-only, full, unreachable)."""


@contextlib.contextmanager
def _storage() -> Iterator[None]:
    """Turn a database failure (other than a lost claim) into StorageUnavailable, for a friendly message."""
    try:
        yield
    except IntegrityError:
        raise
    except (DBAPIError, OSError) as exc:
        raise StorageUnavailable(str(exc.__class__.__name__)) from exc


# The statements on the suggestion and Home paths, built once: building one costs more than running it.
_T = suggestions_table
_INSERT = insert(_T)
_GET = select(_T).where(_T.c.event_id == bindparam("event_id"))
# The Home tab's list: only what it shows, so no JSON column is read or decoded.
_SHOWN = (
    select(_T.c.dish, _T.c.taste, _T.c.time_of_day, _T.c.vote, _T.c.created_at)
    .where(_T.c.requester == bindparam("requester"))
    .order_by(_T.c.created_at.desc(), _T.c.event_id.desc())
    .limit(bindparam("limit"))
)
_VOTE_COUNTS = select(func.count(case((_T.c.vote > 0, 1))), func.count(case((_T.c.vote <= 0, 1)))).where(
    _T.c.requester == bindparam("requester")
)
_HISTORY = (
    select(_T.c.taste, _T.c.time_of_day, func.max(_T.c.vote))
    .where(
        _T.c.requester == bindparam("requester"),
        _T.c.dish == bindparam("dish"),
        _T.c.created_at < bindparam("before"),
    )
    .group_by(_T.c.taste, _T.c.time_of_day)
)

# The claims on the click paths (bound names differ from the columns, as UPDATE ... SET needs).
_CLAIM_VOTE = (
    update(_T)
    .where(_T.c.event_id == bindparam("claimed"), _T.c.requester == bindparam("by"), _T.c.vote.is_(None))
    .values(vote=bindparam("value"))
)
_CLAIM_RETRY = (
    update(_T)
    .where(
        _T.c.event_id == bindparam("claimed"),
        _T.c.requester == bindparam("by"),
        _T.c.vote <= 0,
        _T.c.retried.is_(False),
    )
    .values(retried=True)
)
_CLAIM_SUGGEST = insert(suggest_clicks_table)

# Where a dish was suggested to a person before: (taste, time of day, best vote or None), one row each.
History = list[tuple[str, str, float | None]]


@dataclass(frozen=True)
class Suggestion:
    """One ranked suggestion as shown to its requester."""

    event_id: str
    requester: str
    dish: str
    taste: str
    time_of_day: str
    ranking: list[tuple[str, float]]
    excluded: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    channel: str | None = None
    vote: float | None = None
    retried: bool = False
    created_at: float = 0.0


@dataclass(frozen=True)
class Shown:
    """What the Home tab lists of one suggestion: the dish, the craving and time, the vote, when."""

    dish: str
    taste: str
    time_of_day: str
    vote: float | None
    created_at: float


class SuggestionStore:
    """Queries on the suggestions table; claims are single UPDATEs so they hold across processes."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # SQLite has one writer at a time and its busy handler backs off in sleeps of up to 100 ms, which
        # made p99 latency spike under 20 concurrent clicks; queueing our own writes on a lock avoids that.
        self._write_lock = threading.Lock() if is_sqlite(engine) else contextlib.nullcontext()

    def create_schema(self) -> None:
        """Create the table if it is missing (safe when several processes start at once)."""
        create_tables(metadata, self.engine)

    def add(self, suggestion: Suggestion) -> None:
        """Record a suggestion just ranked."""
        with _storage(), self._write_lock, self.engine.begin() as conn:
            conn.execute(_INSERT, _row(suggestion))

    def add_and_history(self, suggestion: Suggestion) -> History:
        """Record a suggestion just ranked and return its dish's history before it, in one transaction.

        The history is read after the insert: a read first would make SQLite's transaction upgrade to a
        write, which fails when the learner's writer committed in between.
        """
        values = _row(suggestion)
        parameters = {
            "requester": suggestion.requester,
            "dish": suggestion.dish,
            "before": values["created_at"],
        }
        with _storage(), self._write_lock, self.engine.begin() as conn:
            conn.execute(_INSERT, values)
            return [
                (taste, time_of_day, vote) for taste, time_of_day, vote in conn.execute(_HISTORY, parameters)
            ]

    def get(self, event_id: str) -> Suggestion | None:
        """The suggestion with this event ID, or None."""
        with _storage(), self.engine.connect() as conn:
            row = conn.execute(_GET, {"event_id": event_id}).first()
        return None if row is None else _suggestion(row)

    def home_history(self, requester: str, limit: int = 10) -> tuple[list[Shown], int, int]:
        """For the Home tab, on one connection: the newest `limit` suggestions, the 👍 and 👎 counts."""
        with _storage(), self.engine.connect() as conn:
            shown = [Shown(*row) for row in conn.execute(_SHOWN, {"requester": requester, "limit": limit})]
            likes, dislikes = conn.execute(_VOTE_COUNTS, {"requester": requester}).one()
        return shown, int(likes), int(dislikes)

    def history(self, requester: str, dish: str, before: float) -> History:
        """Where `dish` was suggested to the requester before `before`: (taste, time of day, best vote).

        One row per craving and time of day; the vote is the highest given there (None: never voted).
        """
        parameters = {"requester": requester, "dish": dish, "before": before}
        with _storage(), self.engine.connect() as conn:
            return [
                (taste, time_of_day, vote) for taste, time_of_day, vote in conn.execute(_HISTORY, parameters)
            ]

    def claim_vote(self, event_id: str, requester: str, value: float) -> bool:
        """Set the vote if the requester has not voted yet; True only for the one click that wins."""
        parameters = {"claimed": event_id, "by": requester, "value": value}
        with _storage(), self._write_lock, self.engine.begin() as conn:
            return conn.execute(_CLAIM_VOTE, parameters).rowcount == 1

    def release_vote(self, event_id: str, value: float) -> None:
        """Undo a claim whose reward could not be sent, so the requester can vote again."""
        table = suggestions_table
        with _storage(), self._write_lock, self.engine.begin() as conn:
            conn.execute(
                update(table).where(table.c.event_id == event_id, table.c.vote == value).values(vote=None)
            )

    def claim_suggest(self, click_key: str) -> bool:
        """Claim the Suggest click on one menus message; False when another click already has it."""
        try:
            with _storage(), self._write_lock, self.engine.begin() as conn:
                conn.execute(_CLAIM_SUGGEST, {"click_key": click_key, "created_at": time.time()})
        except IntegrityError:
            return False
        return True

    def release_suggest(self, click_key: str) -> None:
        """Undo a Suggest claim whose rank failed, so the menus can be clicked again."""
        table = suggest_clicks_table
        with _storage(), self._write_lock, self.engine.begin() as conn:
            conn.execute(delete(table).where(table.c.click_key == click_key))

    def claim_retry(self, event_id: str, requester: str) -> bool:
        """Mark "Try another" used on a 👎'd suggestion; True only for the one click that wins."""
        with _storage(), self._write_lock, self.engine.begin() as conn:
            return conn.execute(_CLAIM_RETRY, {"claimed": event_id, "by": requester}).rowcount == 1

    def release_retry(self, event_id: str) -> None:
        """Undo a retry claim whose rank failed."""
        with _storage(), self._write_lock, self.engine.begin() as conn:
            conn.execute(
                update(suggestions_table)
                .where(suggestions_table.c.event_id == event_id)
                .values(retried=False)
            )


def _row(suggestion: Suggestion) -> dict[str, Any]:
    """A Suggestion as a suggestions-table row."""
    return {
        "event_id": suggestion.event_id,
        "requester": suggestion.requester,
        "channel": suggestion.channel,
        "dish": suggestion.dish,
        "taste": suggestion.taste,
        "time_of_day": suggestion.time_of_day,
        "ranking": json.dumps(suggestion.ranking),
        "excluded": json.dumps(suggestion.excluded),
        "rejected": json.dumps(suggestion.rejected),
        "vote": suggestion.vote,
        "retried": suggestion.retried,
        "created_at": suggestion.created_at or time.time(),
    }


def _suggestion(row: Any) -> Suggestion:
    """A suggestions-table row as a Suggestion."""
    return Suggestion(
        event_id=row.event_id,
        requester=row.requester,
        channel=row.channel,
        dish=row.dish,
        taste=row.taste,
        time_of_day=row.time_of_day,
        ranking=[(str(d), float(p)) for d, p in json.loads(row.ranking)],
        excluded=list(json.loads(row.excluded)),
        rejected=list(json.loads(row.rejected)),
        vote=row.vote,
        retried=bool(row.retried),
        created_at=row.created_at,
    )

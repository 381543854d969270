"""A suggestions table made before it had indexes gets them at start-up, and its queries then use them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Boolean, Column, Engine, Float, MetaData, String, Table, Text, inspect, text

from bot import suggestions
from bot.db import create_database_engine
from bot.suggestions import Suggestion, SuggestionStore

NEW_INDEXES = {
    "ix_slack_suggestions_requester": ["requester", "created_at"],
    "ix_slack_suggestions_dish": ["requester", "dish", "created_at", "taste", "time_of_day", "vote"],
}


def _old_schema(engine: Engine) -> None:
    """The suggestions table as the app created it before the Home tab: the same columns, no index."""
    metadata = MetaData()
    Table(
        "slack_suggestions",
        metadata,
        Column("event_id", String(64), primary_key=True),
        Column("requester", String(64), nullable=False),
        Column("channel", String(64)),
        Column("dish", String(256), nullable=False),
        Column("taste", String(32), nullable=False),
        Column("time_of_day", String(32), nullable=False),
        Column("ranking", Text, nullable=False),
        Column("excluded", Text, nullable=False),
        Column("rejected", Text, nullable=False),
        Column("vote", Float),
        Column("retried", Boolean, nullable=False, default=False),
        Column("created_at", Float, nullable=False),
    )
    Table(
        "slack_suggest_clicks",
        metadata,
        Column("click_key", String(160), primary_key=True),
        Column("created_at", Float, nullable=False),
    )
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO slack_suggestions (event_id, requester, channel, dish, taste, time_of_day, ranking,"
                " excluded, rejected, vote, retried, created_at) VALUES ('old1', 'U1', 'C1', 'mochi', 'sweet',"
                " 'evening', '[[\"mochi\", 1.0]]', '[]', '[]', 1.0, false, 100.0)"
            )
        )


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def old_database(request: pytest.FixtureRequest, fresh_database: Callable[[str], str]) -> Iterator[Engine]:
    engine = create_database_engine(fresh_database(request.param))
    _old_schema(engine)
    yield engine
    engine.dispose()


def _indexes(engine: Engine) -> dict[str, list[str]]:
    return {i["name"]: i["column_names"] for i in inspect(engine).get_indexes("slack_suggestions")}


def test_a_table_made_before_the_indexes_gets_them_and_keeps_its_rows(old_database: Engine) -> None:
    assert _indexes(old_database) == {}
    store = SuggestionStore(old_database)
    store.create_schema()  # what start-up runs
    assert _indexes(old_database) == NEW_INDEXES
    store.create_schema()  # a second start (or another process) finds them there
    assert _indexes(old_database) == NEW_INDEXES
    assert store.history("U1", "mochi", before=200.0) == [("sweet", "evening", 1.0)]
    store.add(Suggestion("new1", "U1", "churros", "sweet", "evening", [("churros", 1.0)], created_at=150.0))
    shown, likes, dislikes = store.home_history("U1")
    assert [s.dish for s in shown] == ["churros", "mochi"] and (likes, dislikes) == (1, 0)


def _plan(engine: Engine, query: Any, **values: Any) -> str:
    """SQLite's plan for a statement as the store sends it, with these values bound."""
    compiled = query.compile(engine)
    parameters = compiled.construct_params(values)
    bound = tuple(parameters[name] for name in compiled.positiontup or [])
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled), bound)
        return " | ".join(str(row[-1]) for row in rows)


def test_on_sqlite_the_history_and_home_queries_then_read_the_indexes(
    fresh_database: Callable[[str], str],
) -> None:
    engine = create_database_engine(fresh_database("sqlite"))
    try:
        _old_schema(engine)
        SuggestionStore(engine).create_schema()
        history = _plan(engine, suggestions._HISTORY, requester="U1", dish="mochi", before=200.0)
        shown = _plan(engine, suggestions._SHOWN, requester="U1", limit=10)
        counts = _plan(engine, suggestions._VOTE_COUNTS, requester="U1")
    finally:
        engine.dispose()
    assert "COVERING INDEX ix_slack_suggestions_dish" in history, history
    # In index order: only suggestions made in the same instant are sorted (by event ID), none read twice.
    assert "USING INDEX ix_slack_suggestions_requester" in shown and "SCAN" not in shown, shown
    assert "COVERING INDEX" in counts and "SCAN" not in counts, counts

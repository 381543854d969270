"""The event log's indexes: the trainer's queue and log retention stay fast however long the log grows."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, inspect, select, text

from bot.db import create_database_engine
from bot.personalizer.local import store


@pytest.fixture
def engine(database_url):
    engine = create_database_engine(database_url)
    store.create_tables(engine)
    yield engine
    engine.dispose()


def index_names(engine) -> set[str]:
    return {index["name"] for index in inspect(engine).get_indexes("pz_events")}


def test_a_database_made_by_an_earlier_version_gets_the_new_indexes(engine):
    with engine.begin() as conn:  # the schema before the split by state
        conn.execute(text("DROP INDEX ix_pz_events_pending"))
        conn.execute(text("DROP INDEX ix_pz_events_settled"))
        conn.execute(text("CREATE INDEX ix_pz_events_state_deadline ON pz_events (state, deadline)"))
        conn.execute(text("CREATE INDEX ix_pz_events_ranked_at ON pz_events (ranked_at)"))
    store.create_tables(engine)
    assert {"ix_pz_events_pending", "ix_pz_events_settled"} <= index_names(engine)
    assert not {"ix_pz_events_state_deadline", "ix_pz_events_ranked_at"} & index_names(engine)


def plan(engine, query) -> str:
    """SQLite's plan for a query as the application sends it (bound parameters and all)."""
    compiled = query.compile(engine)
    parameters = compiled.construct_params()
    values = [parameters[name] for name in compiled.positiontup or []]
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled), tuple(values))
        return " | ".join(str(row[-1]) for row in rows)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_each_log_query_reads_its_own_index_never_the_whole_log(engine):
    for aggregation in ("earliest", "sum"):
        trainer = plan(engine, store.ready_events_query(1_700_000_000.0, aggregation, 100))
        assert "USING INDEX ix_pz_events_pending" in trainer and "TEMP B-TREE" not in trainer, trainer
    events = store.events
    retention = plan(engine, delete(events).where(events.c.ranked_at < 1.0, store.IS_SETTLED))
    assert "USING INDEX ix_pz_events_settled" in retention, retention
    for state in (store.IS_PENDING, store.IS_SETTLED):
        oldest = plan(engine, select(func.min(events.c.ranked_at)).where(state))
        assert "INDEX ix_pz_events_" in oldest, oldest

"""A write the database refuses for its own content fails alone: its batch-mates are committed."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from bot.personalizer.base import InvalidRequest, RankRequest
from bot.personalizer.local import store
from bot.personalizer.local.loop import open_learning_loop
from bot.personalizer.local.ranking import decide

from .conftest import SEED_ACTIONS


def test_an_unstorable_row_fails_alone_in_its_batch(database_url: str, clock) -> None:
    loop = open_learning_loop(database_url, clock=clock, run_trainer=False)
    try:
        rows = [
            decide(
                RankRequest([{"t": "x"}], SEED_ACTIONS, event_id=uuid.uuid4().hex),
                loop.settings,
                None,
                clock(),
            ).row
            for _ in range(20)
        ]
        bad = dict(rows[7], chosen_id="\ud800")  # past validation, as a bug would let it through

        async def all_at_once() -> list[BaseException | None]:
            writes = [loop._events.log_event_async(row) for row in rows[:7] + [bad] + rows[8:]]
            return await asyncio.gather(*writes, return_exceptions=True)

        outcomes = asyncio.run(all_at_once())
        assert isinstance(outcomes[7], InvalidRequest), outcomes[7]
        assert [o for i, o in enumerate(outcomes) if i != 7] == [None] * 19
        for i, row in enumerate(rows):
            stored = store.get_event(loop._engine, row["event_id"])
            assert (stored is None) == (i == 7), i
        assert loop.health.problems() == {}
    finally:
        loop.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_writer_thread_survives_a_bug_in_a_batch(database_url: str, clock, monkeypatch) -> None:
    loop = open_learning_loop(database_url, clock=clock, run_trainer=False)
    try:
        writer = loop._events._threads
        calls = {"n": 0}
        real = writer._commit

        def broken_once(link, batch):  # type: ignore[no-untyped-def]
            calls["n"] += 1
            if calls["n"] == 1:
                raise RuntimeError("a bug")
            return real(link, batch)

        monkeypatch.setattr(writer, "_commit", broken_once)
        request = RankRequest([{"t": "x"}], SEED_ACTIONS)

        async def two() -> tuple[BaseException | None, BaseException | None]:
            first = await asyncio.gather(loop.rank_async(request), return_exceptions=True)
            second = await asyncio.gather(loop.rank_async(request), return_exceptions=True)
            return first[0], second[0]

        first, second = asyncio.run(two())
        assert type(first).__name__ == "RankerUnavailable"
        assert not isinstance(second, BaseException)
        assert loop.health.problems() == {}
    finally:
        loop.close()

"""The event log's writer is supervised: if its thread (SQLite) or task (PostgreSQL) dies anyway, the callers
it held are answered at once, /healthz reports `pz-writer` and counts the restart, and writing goes on."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from starlette.requests import Request

from bot.api.asgi import healthz_for
from bot.personalizer.base import RankerUnavailable, RankRequest
from bot.personalizer.local import health as health_module
from bot.personalizer.local.loop import open_learning_loop

from .conftest import SEED_ACTIONS, SEED_CONTEXT


class Dying(BaseException):
    """Not an Exception: what a batch's own handling does not catch, so the writer's loop ends with it."""


def _writer(loop: Any) -> Any:
    """The writer that takes event loops' writes: the thread writer on SQLite, the asyncpg one on PostgreSQL."""
    return loop._events._event_loops


async def _health(loop: Any) -> tuple[int, bytes]:
    answer = await healthz_for(loop)(Request({"type": "http", "method": "GET", "headers": []}))
    return answer.status_code, bytes(answer.body)


def test_a_dying_writer_answers_its_callers_and_is_restarted(database_url: str, clock, monkeypatch) -> None:
    monkeypatch.setattr(health_module, "RESTART_PAUSE", 0.5)
    loop = open_learning_loop(database_url, clock=clock, run_trainer=False)
    try:
        writer = _writer(loop)
        real = writer._commit
        calls = {"n": 0}

        def dies_once(link, batch):  # type: ignore[no-untyped-def]
            calls["n"] += 1
            if calls["n"] == 1:
                raise Dying()
            return real(link, batch)

        monkeypatch.setattr(writer, "_commit", dies_once)
        request = RankRequest(SEED_CONTEXT, SEED_ACTIONS)

        async def scenario() -> None:
            outcome = (await asyncio.gather(loop.rank_async(request), return_exceptions=True))[0]
            assert isinstance(outcome, RankerUnavailable), outcome
            assert "in time" not in str(outcome), (
                "the caller waited out its timeout instead of being answered"
            )
            status, body = await _health(loop)
            assert status == 503 and b"pz-writer" in body, body
            deadline = time.monotonic() + 10  # the supervisor counts the restart as the thread ends
            while loop.health.restarts.get("pz-writer") != 1:
                assert time.monotonic() < deadline, loop.health.restarts
                await asyncio.sleep(0.01)
            # Ranks sent meanwhile wait for the restart, and are then written.
            answers = await asyncio.gather(*[loop.rank_async(request) for _ in range(5)])
            assert len({answer.event_id for answer in answers}) == 5
            deadline = time.monotonic() + 10
            while (await _health(loop))[0] != 200:
                assert time.monotonic() < deadline, await _health(loop)
                await asyncio.sleep(0.05)
            assert (await loop.rank_async(request)).event_id

        asyncio.run(scenario())
        assert loop.health.problems() == {}
    finally:
        loop.close()

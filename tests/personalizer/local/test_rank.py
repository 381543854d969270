"""Rank: the ranking, the seeded draw, durable logging, and every validation error (nothing logged)."""

from __future__ import annotations

import asyncio

import pytest

from bot.personalizer.base import EventNotFound, InvalidRequest, RankableAction, RankRequest
from bot.personalizer.local import store
from bot.personalizer.local.eventlog import batch as writer_module
from bot.personalizer.local.loop import open_learning_loop
from bot.personalizer.local.settings import LoopSettings
from tests.personalizer.local.conftest import SEED_ACTIONS, SEED_CONTEXT


@pytest.fixture
def loop(database_url, clock):
    loop = open_learning_loop(database_url, LoopSettings(), clock=clock, run_trainer=False)
    yield loop
    loop.close()


def test_quickstart_request_ranks_every_action_with_excluded_last_at_zero(loop):
    result = loop.rank(RankRequest(SEED_CONTEXT, SEED_ACTIONS, ["juice"], event_id="seed-event"))
    assert result.event_id == "seed-event"
    assert [r.id for r in result.ranking][0] == result.reward_action_id
    assert {r.id for r in result.ranking} == {"pasta", "ice cream", "juice", "salad"}
    assert result.ranking[-1].id == "juice" and result.ranking[-1].probability == 0
    allowed = [r.probability for r in result.ranking if r.id != "juice"]
    assert allowed == pytest.approx([1 / 3] * 3)  # before any model: uniform over the allowed actions


def test_event_is_logged_before_rank_returns(loop):
    result = loop.rank(RankRequest(SEED_CONTEXT, SEED_ACTIONS, ["juice"]))
    row = store.get_event(loop._engine, result.event_id)
    assert row is not None and row["chosen_id"] == result.reward_action_id
    assert row["probability"] == pytest.approx(1 / 3)
    assert '"juice"' in row["excluded"] and "juice" not in row["actions"]


def test_generated_event_ids_are_unique(loop):
    ids = {loop.rank(RankRequest(SEED_CONTEXT, SEED_ACTIONS)).event_id for _ in range(20)}
    assert len(ids) == 20


def test_same_event_id_draws_the_same_action(database_url, clock, tmp_path):
    other = open_learning_loop(
        f"sqlite:///{tmp_path}/other.db", LoopSettings(), clock=clock, run_trainer=False
    )
    first = open_learning_loop(database_url, LoopSettings(), clock=clock, run_trainer=False)
    try:
        for n in range(15):
            request = RankRequest(SEED_CONTEXT, SEED_ACTIONS, event_id=f"event-{n}")
            assert first.rank(request).reward_action_id == other.rank(request).reward_action_id
        picks = {first.rank(RankRequest(SEED_CONTEXT, SEED_ACTIONS)).reward_action_id for _ in range(40)}
        assert len(picks) > 1  # different IDs explore different actions
    finally:
        first.close()
        other.close()


def test_a_used_event_id_is_refused(loop):
    loop.rank(RankRequest(SEED_CONTEXT, SEED_ACTIONS, event_id="once"))
    with pytest.raises(InvalidRequest, match="already ranked"):
        loop.rank(RankRequest(SEED_CONTEXT, SEED_ACTIONS, event_id="once"))


def test_a_used_event_id_fails_alone_among_writes_committed_together(loop):
    """Writes queued together share a transaction; the one that breaks it must not fail the others."""
    loop.rank(RankRequest(SEED_CONTEXT, SEED_ACTIONS, event_id="once"))
    fresh = [f"burst-{n}" for n in range(40)]

    async def burst():
        ranks = [loop.rank_async(RankRequest(SEED_CONTEXT, SEED_ACTIONS, event_id=e)) for e in fresh]
        ranks.insert(20, loop.rank_async(RankRequest(SEED_CONTEXT, SEED_ACTIONS, event_id="once")))
        rewards = [loop.reward_async("once", 1.0), loop.reward_async("never-ranked", 1.0)]
        return await asyncio.gather(*ranks, *rewards, return_exceptions=True)

    outcomes = asyncio.run(burst())
    assert isinstance(outcomes.pop(20), InvalidRequest)
    assert [result.event_id for result in outcomes[:40]] == fresh
    assert outcomes[40] is None and isinstance(outcomes[41], EventNotFound)
    assert all(store.get_event(loop._engine, e) is not None for e in fresh)
    assert store.event_rewards(loop._engine, "once")[0][0] == 1.0


def test_a_batch_keeps_each_events_rewards_in_the_order_they_came(loop):
    """One transaction holding several rewards for one event, interleaved with another event's: the first
    one that came is the earliest, and each counts once."""
    for event_id in ("late", "early"):  # "late" sorts after "early": a batch's order is not the log's
        loop.rank(RankRequest(SEED_CONTEXT, SEED_ACTIONS, event_id=event_id))
    came = [("late", 0.5), ("early", 0.25), ("late", -1.0), ("early", 1.0), ("late", 0.125)]
    now = loop._clock()
    batch = [writer_module.Write("reward", {"id": e, "value": v, "at": now}) for e, v in came]
    outcomes = loop._events._threads._commit(loop._events._threads._own, batch)
    assert [error for _, error in outcomes] == [None] * len(came)
    for event_id in ("late", "early"):
        values = [v for e, v in came if e == event_id]
        row = store.get_event(loop._engine, event_id)
        assert (row["first_reward"], row["reward_sum"], row["reward_count"]) == (
            values[0],
            sum(values),
            len(values),
        )
        assert [value for value, _ in store.event_rewards(loop._engine, event_id)] == values


def many(n):
    return [RankableAction(f"a{i}", [{"n": i}]) for i in range(n)]


@pytest.mark.parametrize(
    "request_, target",
    [
        (RankRequest(SEED_CONTEXT, []), "actions"),
        (RankRequest(SEED_CONTEXT, [RankableAction("x"), RankableAction("x")]), "actions[1].id"),
        (RankRequest(SEED_CONTEXT, SEED_ACTIONS, [a.id for a in SEED_ACTIONS]), "excludedActions"),
        (RankRequest(SEED_CONTEXT, [RankableAction("x" * 257)]), "actions[0].id"),
        (RankRequest(SEED_CONTEXT, SEED_ACTIONS, event_id="e" * 257), "eventId"),
        (RankRequest(SEED_CONTEXT, SEED_ACTIONS, event_id=""), "eventId"),
        (RankRequest(SEED_CONTEXT, many(51)), "actions"),
        (RankRequest([], SEED_ACTIONS), "contextFeatures"),
        (RankRequest([{"_only_ignored": 1}], SEED_ACTIONS), "contextFeatures"),
        (RankRequest("sweet", SEED_ACTIONS), "contextFeatures"),  # type: ignore[arg-type]
        (RankRequest(SEED_CONTEXT, [RankableAction(5, [])]), "actions[0].id"),  # type: ignore[arg-type]
        (RankRequest(SEED_CONTEXT, [RankableAction("x", [{"tags": ["a"]}])]), "actions[0].features"),
        (RankRequest(SEED_CONTEXT, SEED_ACTIONS, excluded_actions="juice"), "excludedActions"),  # type: ignore[arg-type]
        (RankRequest(SEED_CONTEXT, SEED_ACTIONS, defer_activation="yes"), "deferActivation"),  # type: ignore[arg-type]
    ],
)
def test_bad_requests_get_a_specific_error_and_log_nothing(loop, request_, target):
    with pytest.raises(InvalidRequest) as error:
        loop.rank(request_)
    assert error.value.target == target
    assert store.count_events(loop._engine) == 0


def test_a_menu_ranked_before_still_follows_each_requests_exclusions(loop):
    loop.rank(RankRequest(SEED_CONTEXT, SEED_ACTIONS, ["juice"]))  # remembered by its JSON
    result = loop.rank(RankRequest(SEED_CONTEXT, SEED_ACTIONS, ["pasta", "salad"]))
    assert {r.id for r in result.ranking if r.probability > 0} == {"ice cream", "juice"}
    row = store.get_event(loop._engine, result.event_id)
    assert row is not None and "pasta" not in row["actions"] and "juice" in row["actions"]
    with pytest.raises(InvalidRequest) as error:
        loop.rank(RankRequest(SEED_CONTEXT, SEED_ACTIONS, [a.id for a in SEED_ACTIONS]))
    assert error.value.target == "excludedActions"


@pytest.mark.parametrize(
    "request_, target, message",
    [
        (RankRequest([{"hunger": float("nan")}], SEED_ACTIONS), "contextFeatures", "finite"),
        (RankRequest([{"when": object()}], SEED_ACTIONS), "contextFeatures", "unsupported value"),
        (
            RankRequest(SEED_CONTEXT, [RankableAction("x", [{"n": float("inf")}])]),
            "actions[0].features",
            "finite",
        ),
    ],
)
def test_features_json_cannot_hold_are_refused_with_the_reason(loop, request_, target, message):
    for _ in range(2):  # the second time too: nothing invalid is remembered
        with pytest.raises(InvalidRequest, match=message) as error:
            loop.rank(request_)
        assert error.value.target == target
    assert store.count_events(loop._engine) == 0


def test_the_action_limit_is_configurable(database_url, clock):
    loop = open_learning_loop(database_url, LoopSettings(max_actions=60), clock=clock, run_trainer=False)
    try:
        assert len(loop.rank(RankRequest(SEED_CONTEXT, many(60))).ranking) == 60
    finally:
        loop.close()


def test_forked_processes_do_not_repeat_each_others_event_ids():
    import multiprocessing

    from bot.personalizer.local.ranking import new_event_id as _new_event_id

    _new_event_id()  # the parent's generator is in use before the fork, as in the service
    context = multiprocessing.get_context("fork")
    with context.Pool(2) as pool:
        children = pool.map(_ids_in_child, range(2))
    parent = [_new_event_id() for _ in range(20)]
    everything = parent + children[0] + children[1]
    assert len(set(everything)) == len(everything)


def _ids_in_child(_: int) -> list[str]:
    from bot.personalizer.local.ranking import new_event_id as _new_event_id

    return [_new_event_id() for _ in range(20)]

"""Multi-slot ranks on a loop switched to `--ccb_explore_adf` as Microsoft's tests switch it: rank, reward by
slot, deferred activation, and training exactly once, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import collections
import json

import pytest

from bot.db import create_database_engine
from bot.personalizer.base import (
    EventNotFound,
    InvalidRequest,
    MultiSlotRankRequest,
    RankableAction,
    RankRequest,
    SlotRequest,
    SlotReward,
)
from bot.personalizer.local import store
from bot.personalizer.local.loop import open_learning_loop
from bot.personalizer.local.multislot import decide_multislot
from bot.personalizer.local.settings import LoopSettings
from bot.personalizer.local.trainer import multislot_lines

# What Microsoft's SDK tests send with PUT /configurations/policy to make a loop multi-slot.
MICROSOFT_MULTISLOT = "--ccb_explore_adf --epsilon 0.2 --power_t 0 -l 0.001 --cb_type mtr -q ::"
WAIT = 600.0
ACTIONS = [
    RankableAction("pasta", [{"course": "main", "cuisine": "italian"}]),
    RankableAction("ramen", [{"course": "main", "cuisine": "japanese"}]),
    RankableAction("tiramisu", [{"course": "dessert", "cuisine": "italian"}]),
    RankableAction("mochi", [{"course": "dessert", "cuisine": "japanese"}]),
]
SLOTS = [
    SlotRequest("main", [{"course": "main"}], baseline_action="pasta"),
    SlotRequest("dessert", [{"course": "dessert"}], excluded_actions=["pasta"], baseline_action="tiramisu"),
]
CONTEXT = [{"user": "ana"}, {"time_of_day": "evening"}]


def request(event_id=None, slots=SLOTS, deferred=False):
    return MultiSlotRankRequest(CONTEXT, ACTIONS, slots, event_id=event_id, defer_activation=deferred)


def open_loop(database_url, clock, **changes):
    settings = LoopSettings(reward_wait_time=WAIT, model_export_frequency=1.0, **changes)
    loop = open_learning_loop(database_url, settings, clock=clock, run_trainer=False)
    loop.admin.set_policy(MICROSOFT_MULTISLOT)
    return loop


@pytest.fixture
def loop(database_url, clock):
    loop = open_loop(database_url, clock)
    yield loop
    loop.close()


def chosen(result):
    return {slot.id: slot.reward_action_id for slot in result.slots}


def test_a_loop_ranks_slots_only_once_its_policy_is_multi_slot(database_url, clock):
    settings = LoopSettings(reward_wait_time=WAIT, model_export_frequency=1.0)
    loop = open_learning_loop(database_url, settings, clock=clock, run_trainer=False)
    try:
        with pytest.raises(InvalidRequest) as refused:
            loop.rank_multislot(request())
        assert refused.value.code == "InvalidMultiSlotApiAccess"
        loop.admin.set_policy(MICROSOFT_MULTISLOT)
        assert loop.settings.policy == MICROSOFT_MULTISLOT
        result = loop.rank_multislot(request("first"))
        assert result.event_id == "first" and [s.id for s in result.slots] == ["main", "dessert"]
        with pytest.raises(InvalidRequest, match="ranks slots"):
            loop.rank(RankRequest(CONTEXT, ACTIONS))
    finally:
        loop.close()


def test_every_slot_gets_an_action_of_its_own_and_never_one_it_excludes(loop):
    seen = collections.Counter()
    for i in range(60):
        picks = chosen(loop.rank_multislot(request(f"e{i}")))
        assert picks["main"] != picks["dessert"]
        assert picks["dessert"] != "pasta"
        seen[picks["main"]] += 1
    assert len(seen) == 4  # before any model, every action is open to the first slot


def test_the_event_id_seeds_the_draw_of_every_slot():
    settings = LoopSettings(policy=MICROSOFT_MULTISLOT)
    first = decide_multislot(request("same"), settings, None, 0.0).result
    again = decide_multislot(request("same"), settings, None, 5.0).result
    assert first == again
    others = {
        tuple(chosen(decide_multislot(request(f"x{i}"), settings, None, 0.0).result).values())
        for i in range(40)
    }
    assert len(others) > 3


@pytest.mark.parametrize(
    ("slots", "target"),
    [
        ([], "slots"),
        (
            [SlotRequest("a", baseline_action="pasta"), SlotRequest("a", baseline_action="ramen")],
            "slots[1].id",
        ),
        ([SlotRequest("a", baseline_action="soup")], "slots[0].baselineAction"),
        ([SlotRequest("a", excluded_actions=["pasta"], baseline_action="pasta")], "slots[0].baselineAction"),
        (
            [SlotRequest("a", baseline_action="pasta"), SlotRequest("b", baseline_action="pasta")],
            "slots[1].baselineAction",
        ),
        (
            [SlotRequest("a", excluded_actions=["soup"], baseline_action="pasta")],
            "slots[0].excludedActions[0]",
        ),
        ([SlotRequest(s, baseline_action=None) for s in "abcde"], "slots"),
        ([SlotRequest("a", [{"bad": [1, "x"]}], baseline_action="pasta")], "slots[0].features"),
    ],
)
def test_bad_slots_are_refused_naming_the_field_and_nothing_is_logged(loop, slots, target):
    with pytest.raises(InvalidRequest) as refused:
        loop.rank_multislot(request("bad", slots=slots))
    assert refused.value.target == target
    assert store.get_event(loop._engine, "bad") is None


def test_rewards_go_to_their_slot_and_bad_ones_are_refused(loop):
    loop.rank_multislot(request("e1"))
    loop.reward_multislot("e1", [SlotReward("dessert", 0.5)])
    loop.reward_multislot("e1", [SlotReward("main", 1.0)])
    kept = store.event_rewards(loop._engine, "e1")
    assert sorted(value for value, _ in kept) == [0.5, 1.0]
    with pytest.raises(InvalidRequest, match="'side' is not a slot"):
        loop.reward_multislot("e1", [SlotReward("side", 1.0)])
    with pytest.raises(InvalidRequest, match="between -1 and 1"):
        loop.reward_multislot("e1", [SlotReward("main", 2.0)])
    with pytest.raises(EventNotFound):
        loop.reward_multislot("never-ranked", [SlotReward("main", 1.0)])


def test_a_single_slot_event_takes_no_slot_rewards(database_url, clock):
    loop = open_learning_loop(database_url, LoopSettings(), clock=clock, run_trainer=False)
    try:
        result = loop.rank(RankRequest(CONTEXT, ACTIONS))
        with pytest.raises(InvalidRequest, match="without slots"):
            loop.reward_multislot(result.event_id, [SlotReward("main", 1.0)])
    finally:
        loop.close()


def test_an_event_is_learned_once_when_every_slot_has_its_reward(loop, clock):
    loop.rank_multislot(request("e1"))
    loop.reward_multislot("e1", [SlotReward("main", 1.0)])
    clock.advance(1)
    assert loop.train_once() == 0  # earliest: the dessert slot may still get its reward
    loop.reward_multislot("e1", [SlotReward("dessert", 0.5)])
    assert loop.train_once() == 1
    assert loop.train_once() == 0
    row = store.get_event(loop._engine, "e1")
    assert row["state"] == store.LEARNED and row["learned_value"] == pytest.approx(0.75)
    lines = multislot_lines(row, {"main": 1.0, "dessert": 0.5})
    slots = json.loads(row["slots"])
    assert lines[0].startswith("ccb shared |C") and sum(line.startswith("ccb action") for line in lines) == 4
    assert lines[-2].startswith(f"ccb slot {slots[0]['chosen']}:-1.0:{slots[0]['probability']!r} 0,1,2,3 |S")
    assert lines[-1].startswith(f"ccb slot {slots[1]['chosen']}:-0.5:{slots[1]['probability']!r} ")
    assert store.latest_model(loop._engine).learned_events == 1


def test_a_slot_without_reward_learns_the_default_reward_when_the_window_closes(database_url, clock):
    loop = open_loop(database_url, clock, default_reward=-0.5)
    try:
        loop.rank_multislot(request("e1"))
        loop.reward_multislot("e1", [SlotReward("main", 1.0)])
        clock.advance(WAIT + 1)
        loop.reward_multislot("e1", [SlotReward("dessert", 1.0)])  # late: kept, not learned
        assert loop.train_once() == 1
        assert store.get_event(loop._engine, "e1")["learned_value"] == pytest.approx(0.25)
    finally:
        loop.close()


def test_deferred_events_are_learned_only_once_activated(loop, clock):
    loop.rank_multislot(request("kept", deferred=True))
    loop.rank_multislot(request("dropped", deferred=True))
    loop.activate("kept")
    for event_id in ("kept", "dropped"):
        loop.reward_multislot(event_id, [SlotReward("main", 1.0), SlotReward("dessert", 1.0)])
    clock.advance(WAIT + 1)
    assert loop.train_once() == 2
    assert store.get_event(loop._engine, "kept")["state"] == store.LEARNED
    assert store.get_event(loop._engine, "dropped")["state"] == store.NEVER_LEARNED
    assert store.latest_model(loop._engine).learned_events == 1


def test_it_learns_each_slots_favourite_and_logs_the_probabilities_it_drew_with(loop, clock):
    liked = {"main": "ramen", "dessert": "mochi"}
    for i in range(300):
        picks = chosen(loop.rank_multislot(request(f"t{i}")))
        loop.reward_multislot(f"t{i}", [SlotReward(s, float(picks[s] == liked[s])) for s in liked])
        if i % 20 == 19:
            clock.advance(1)
            loop.train_once()
    hits = collections.Counter()
    for i in range(100):
        picks = chosen(loop.rank_multislot(request(f"look{i}")))
        hits.update(slot for slot in liked if picks[slot] == liked[slot])
        for slot in json.loads(store.get_event(loop._engine, f"look{i}")["slots"]):
            # Epsilon 0.2: the model's choice gets 0.8 + 0.2/n of the n actions open to the slot, the others 0.2/n.
            share = 0.2 / len(slot["open_to"])
            favourite = [a.id for a in ACTIONS].index(liked[slot["id"]])
            expected = {0.8 + share, share} if favourite not in slot["open_to"] else set()
            if slot["chosen"] == favourite:
                expected = {0.8 + share}
            elif favourite in slot["open_to"]:
                expected = {share}
            assert any(slot["probability"] == pytest.approx(p, abs=1e-6) for p in expected), slot
    assert hits["main"] >= 70 and hits["dessert"] >= 70


def test_the_async_calls_do_what_the_sync_ones_do(loop, clock):
    async def play():
        result = await loop.rank_multislot_async(request("a1"))
        await loop.reward_multislot_async("a1", [SlotReward("main", 1.0), SlotReward("dessert", 0.0)])
        return result

    result = asyncio.run(play())
    assert store.get_event(loop._engine, "a1")["chosen_id"] == chosen(result)["main"]
    clock.advance(1)
    assert loop.train_once() == 1


def test_a_database_made_before_multi_slot_gets_its_columns_at_start_up(database_url, clock):
    open_learning_loop(database_url, LoopSettings(), clock=clock, run_trainer=False).close()
    engine = create_database_engine(database_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE pz_events DROP COLUMN slots")
        conn.exec_driver_sql("ALTER TABLE pz_rewards DROP COLUMN slot_id")
    engine.dispose()
    loop = open_loop(database_url, clock)
    try:
        loop.rank_multislot(request("after"))
        loop.reward_multislot("after", [SlotReward("main", 1.0), SlotReward("dessert", 1.0)])
        clock.advance(1)
        assert loop.train_once() == 1
    finally:
        loop.close()


@pytest.mark.parametrize("mode", ["Apprentice", "LoggingOnly"])
def test_apprentice_and_logging_only_answer_each_slots_baseline(loop, clock, mode):
    loop.admin.update_settings(loop.settings.with_changes(learning_mode=mode))
    for i in range(10):
        assert chosen(loop.rank_multislot(request(f"m{i}"))) == {"main": "pasta", "dessert": "tiramisu"}
        loop.reward_multislot(f"m{i}", [SlotReward("main", 1.0), SlotReward("dessert", 1.0)])
    clock.advance(1)
    assert loop.train_once() == 10
    learned = store.latest_model(loop._engine).learned_events
    assert learned == (
        10 if mode == "Apprentice" else 0
    )  # Apprentice learns to imitate; LoggingOnly only logs


def test_auto_optimization_and_multi_slot_exclude_each_other_as_in_personalizer(database_url, clock):
    """Personalizer refused the pair (ProblemTypeIncompatibleWithAutoOptimization); Microsoft's SDK tests
    turn auto-optimization off before switching a loop to multi-slot. Whichever comes second is refused and
    the configuration stays as it was."""
    settings = LoopSettings(reward_wait_time=WAIT, model_export_frequency=1.0, auto_optimization_enabled=True)
    loop = open_learning_loop(database_url, settings, clock=clock, run_trainer=False)
    try:
        policy = loop.settings.policy
        with pytest.raises(InvalidRequest) as refused:
            loop.admin.set_policy(MICROSOFT_MULTISLOT)
        assert refused.value.code == "ProblemTypeIncompatibleWithAutoOptimization"
        assert loop.settings.policy == policy
        loop.admin.update_settings(loop.settings.with_changes(auto_optimization_enabled=False))
        loop.admin.set_policy(MICROSOFT_MULTISLOT)
        with pytest.raises(InvalidRequest) as refused:
            loop.admin.update_settings(loop.settings.with_changes(auto_optimization_enabled=True))
        assert refused.value.code == "ProblemTypeIncompatibleWithAutoOptimization"
        assert not loop.settings.auto_optimization_enabled and loop.settings.policy == MICROSOFT_MULTISLOT
    finally:
        loop.close()

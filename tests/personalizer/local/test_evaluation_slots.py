"""Evaluations of what the loop logged itself: multi-slot logs per slot, and deferred events never activated."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from fake_clock import Clock

from bot.api.evaluation_wire import evaluation_2022
from bot.personalizer.base import (
    MultiSlotRankRequest,
    RankableAction,
    RankRequest,
    SlotRequest,
    SlotReward,
)
from bot.personalizer.local import EVALUATION, SUCCEEDED, LoopSettings, evaluations_for, open_learning_loop

START = 1_800_000_000.0
WAIT = 60.0
ACTIONS = [RankableAction(name, [{"kind": name}]) for name in ("a", "b", "c")]
# The top slot may not show b (its baseline is a); the side slot's baseline is b.
SLOTS = [
    SlotRequest("top", [{"slot": "top"}], excluded_actions=["b"], baseline_action="a"),
    SlotRequest("side", [{"slot": "side"}], baseline_action="b"),
]
LEARNER = "--ccb_explore_adf -q SA"


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


def open_loop(url: str, clock: Clock, **changes: Any) -> Any:
    settings = LoopSettings(reward_wait_time=WAIT, model_export_frequency=1.0).with_changes(**changes)
    return open_learning_loop(url, settings, clock=clock, run_trainer=False)


def evaluate(
    loop: Any, clock: Clock, policies: list[tuple[str, str]], discover: bool = False
) -> dict[str, Any]:
    """Settle the log (every window closed), evaluate all of it, and answer 2022-09-01-preview's JSON."""
    clock.now += WAIT + 1
    while loop.train_once():
        pass
    evaluations = evaluations_for(loop, clock=clock, in_process=True)
    evaluations.submit_evaluation("e", "e", START - 1, clock.now, policies, discover)
    assert evaluations.run_pending()
    job = evaluations.get(EVALUATION, "e")
    assert job.status == SUCCEEDED, job.message
    assert job.result is not None
    return {**evaluation_2022(job), "events": job.result["events"]}


def results(answer: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(v["name"], v["slotId"]): v for v in answer["content"]["value"]}


def play_slots(loop: Any, clock: Clock, steps: int) -> None:
    """Rank both slots and reward them: top pays 1 for c, side pays 1 for b."""
    world = random.Random(7)
    for step in range(steps):
        user = world.choice(["ana", "ben"])
        answer = loop.rank_multislot(
            MultiSlotRankRequest([{"user": user}], ACTIONS, SLOTS, event_id=f"m{step}")
        )
        shown = {s.id: s.reward_action_id for s in answer.slots}
        loop.reward_multislot(
            f"m{step}",
            [
                SlotReward("top", 1.0 if shown["top"] == "c" else 0.0),
                SlotReward("side", 1.0 if shown["side"] == "b" else 0.0),
            ],
        )
        clock.now += 0.5


@pytest.fixture
def multislot(database_url: str, clock: Clock) -> Iterator[dict[tuple[str, str], dict[str, Any]]]:
    """A seeded two-slot world logged by the loop before its first model (each slot drawn uniformly).

    Top pays 1 for c, so its baseline (a) earns 0 and a learner that finds c earns most of 1; side pays 1
    for b, its baseline, which is always open to it: there the baseline (1.0) is the best policy."""
    loop = open_loop(database_url, clock, policy=LEARNER, exploration_percentage=0.2)
    try:
        play_slots(loop, clock, 600)
        yield results(evaluate(loop, clock, [("learner", LEARNER)]))
    finally:
        loop.close()


def test_a_multislot_evaluation_answers_every_policy_overall_and_per_slot(multislot) -> None:
    names = {"online", "baseline1", "baselineRand", "learner"}
    assert set(multislot) == {(name, slot) for name in names for slot in ("", "top", "side")}
    for item in multislot.values():
        low, high = item["summary"]["confidenceInterval"]
        assert low <= item["summary"]["expectedReward"] <= high
        assert item["timeseries"]["data"], item
    assert multislot[("learner", "top")]["policySource"] == "Custom"


def test_each_slot_shows_its_own_best_policy(multislot) -> None:
    def reward(name: str, slot: str) -> float:
        return float(multislot[(name, slot)]["summary"]["expectedReward"])

    def interval(name: str, slot: str) -> list[float]:
        return list(multislot[(name, slot)]["summary"]["confidenceInterval"])

    # Top: the log drew a or c evenly, so the online policy and random earn about 0.5, the baseline
    # (always a) exactly nothing, and the learner, which finds c, far more than either.
    assert reward("baseline1", "top") == 0.0
    low, high = interval("online", "top")
    assert low <= 0.5 <= high
    assert interval("learner", "top")[0] > interval("baselineRand", "top")[1]
    assert reward("learner", "top") > 0.75
    # Side: b is the baseline and the only rewarded action; the learner explores, so the baseline wins.
    low, high = interval("baseline1", "side")
    assert low <= 1.0 <= high
    assert reward("baseline1", "side") > reward("learner", "side") > reward("baselineRand", "side")
    low, high = interval("baselineRand", "side")
    assert low <= 0.5 <= high
    # Overall: the sum of the slots' rewards; the learner's sum exceeds the log's.
    assert reward("learner", "") > reward("online", "")


def test_a_multislot_loop_discovers_and_applies_multislot_policies(database_url: str, clock: Clock) -> None:
    loop = open_loop(database_url, clock, policy=LEARNER)
    try:
        play_slots(loop, clock, 150)
        found = results(evaluate(loop, clock, [], discover=True))
        discovered = {n: v for (n, slot), v in found.items() if v["policySource"] == "OfflineExperimentation"}
        assert discovered and all("--ccb_explore_adf" in v["arguments"].split() for v in discovered.values())
        assert all((name, "top") in found and (name, "side") in found for name in discovered)
        evaluations = evaluations_for(loop, clock=clock, in_process=True)
        applied = evaluations.apply("e", sorted(discovered)[0])
        assert "--ccb_explore_adf" in applied.split()
        answer = loop.rank_multislot(
            MultiSlotRankRequest([{"user": "ana"}], ACTIONS, SLOTS, event_id="after")
        )
        assert [s.id for s in answer.slots] == ["top", "side"]
    finally:
        loop.close()


def test_deferred_events_never_activated_count_for_no_policy(database_url: str, clock: Clock) -> None:
    loop = open_loop(database_url, clock)
    world = random.Random(11)
    shown_rewards = []
    try:
        for view in range(60):
            # One shown rank (rewarded 0 or 1), then eight deferred ranks nobody activates, each rewarded 1.
            event_id = f"shown{view}"
            loop.rank(RankRequest([{"view": view % 3}], ACTIONS, event_id=event_id))
            value = float(world.random() < 0.3)
            loop.reward(event_id, value)
            shown_rewards.append(value)
            for hidden in range(8):
                deferred_id = f"hidden{view}-{hidden}"
                loop.rank(
                    RankRequest([{"view": view % 3}], ACTIONS, event_id=deferred_id, defer_activation=True)
                )
                loop.reward(deferred_id, 1.0)
            if view % 10 == 9:  # one of them is activated after all: it counts
                loop.activate(f"hidden{view}-0")
                shown_rewards.append(1.0)
            clock.now += 1.0
        evaluated = evaluate(loop, clock, [])
    finally:
        loop.close()
    assert evaluated["events"] == len(shown_rewards) == 66
    answer = results(evaluated)
    online = answer[("online", "")]["summary"]["expectedReward"]
    assert online == pytest.approx(sum(shown_rewards) / len(shown_rewards), abs=1e-6)
    random_reward = answer[("baselineRand", "")]["summary"]["expectedReward"]
    assert random_reward < 0.6  # the 480 unactivated ranks rewarded 1 would lift every policy near 0.9

"""Imported multi-slot decisions (VW's CCB DSJSON) over REST: stored as a multi-slot rank, joined with slot
rewards by slot ID, learned once; and a plain reward for a multi-slot event refused, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import collections
import json
import random
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from fake_clock import Clock

from bot.api.asgi import build_app
from bot.api.server import serving_in_thread
from bot.personalizer.base import EventNotFound, InvalidRequest, RankableAction, RankRequest
from bot.personalizer.local import store
from bot.personalizer.local.loop import LearningLoop, open_learning_loop
from bot.personalizer.local.settings import LoopSettings

KEY = "imported-slots-key"
HEADERS = {"Ocp-Apim-Subscription-Key": KEY, "Content-Type": "application/octet-stream"}
MULTISLOT_POLICY = "--ccb_explore_adf --epsilon 0.2 --power_t 0 -l 0.001 --cb_type mtr -q ::"
MULTI = [
    {"_tag": "pasta", "j": [{"course": "main", "cuisine": "italian"}]},
    {"_tag": "ramen", "j": [{"course": "main", "cuisine": "japanese"}]},
    {"_tag": "tiramisu", "j": [{"course": "dessert", "cuisine": "italian"}]},
    {"_tag": "mochi", "j": [{"course": "dessert", "cuisine": "japanese"}]},
]
NAMES = [action["_tag"] for action in MULTI]
V = "/personalizer/v1.1-preview.3"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, fresh_database: Any) -> str:
    return str(fresh_database(request.param))


def opened(database: str, clock: Clock, multislot: bool) -> LearningLoop:
    settings = LoopSettings(reward_wait_time=60.0, model_export_frequency=1.0)
    loop = open_learning_loop(database, settings, clock=clock, run_trainer=False)
    if multislot:
        loop.admin.set_policy(MULTISLOT_POLICY)
    return loop


@pytest.fixture
def loop(database: str, clock: Clock) -> Iterator[LearningLoop]:
    learning_loop = opened(database, clock, multislot=True)
    yield learning_loop
    learning_loop.close()


@pytest.fixture
def base(loop: LearningLoop) -> Iterator[str]:
    with serving_in_thread(build_app(loop, KEY)) as url:
        yield url


def decision(event_id: str, main: int, dessert: int, **extra: Any) -> dict[str, Any]:
    """A CCB DSJSON line: the main slot takes any action, the dessert slot only the desserts (`_inc`)."""
    main_open = [main] + [i for i in range(4) if i != main]
    dessert_open = [dessert] + [i for i in (2, 3) if i not in (dessert, main)]
    outcomes = [
        {"_id": "main", "_a": main_open, "_p": [0.25] * 4},
        {"_id": "dessert", "_a": dessert_open, "_p": [1 / len(dessert_open)] * len(dessert_open)},
    ]
    for outcome, cost in zip(outcomes, extra.pop("costs", [None, None]), strict=True):
        if cost is not None:
            outcome.update(_label_cost=cost, _o=[{"v": -cost, "EventId": event_id, "Index": outcome["_id"]}])
    return {
        "Version": "1",
        "EventId": event_id,
        "c": {
            "user": {"tier": "gold"},
            "_multi": MULTI,
            "_slots": [
                {"_id": "main", "slot": {"course": "main"}},
                {"_id": "dessert", "slot": {"course": "dessert"}, "_inc": [2, 3]},
            ],
        },
        "_outcomes": outcomes,
        "_ba": [0, 2],
        "VWState": {"m": "elsewhere/1"},
        **extra,
    }


def post(url: str, lines: list[Any]) -> requests.Response:
    body = "\n".join(json.dumps(line) for line in lines).encode()
    return requests.post(url, data=body, headers=HEADERS, timeout=30)


def test_an_imported_multislot_decision_is_a_multislot_event_joined_by_slot_id_and_learned_once(
    base: str, loop: LearningLoop, clock: Clock
) -> None:
    assert post(base + V + "/logs/interactions", [decision("m1", 1, 3)]).status_code == 204
    row = store.get_event(loop._engine, "m1")
    assert row is not None and row["chosen_id"] == "ramen" and row["deadline"] == clock.now + 60.0
    slots = json.loads(row["slots"])
    assert [(s["id"], s["chosen"], s["probability"], s["baseline"]) for s in slots] == [
        ("main", 1, 0.25, 0),
        ("dessert", 3, 0.5, 2),
    ]
    assert slots[1]["open_to"] == [2, 3]  # the desserts it includes; the main slot took neither
    observations = [
        {"EventId": "m1", "Index": "main", "v": 1.0},
        {"EventId": "m1", "Index": "dessert", "v": 0.5},
        {"EventId": "m1", "ActionTaken": True},
    ]
    assert post(base + V + "/logs/observations", observations).status_code == 204
    clock.now += 1  # every slot has its reward: decided before the window closes, as a rank's would be
    assert loop.train_once() == 1
    assert loop.train_once() == 0
    row = store.get_event(loop._engine, "m1")
    assert row["state"] == store.LEARNED and row["learned_value"] == pytest.approx(0.75)  # the slots' mean
    assert store.latest_model(loop._engine).learned_events == 1


def test_an_exported_line_brings_each_slots_label_and_an_empty_o_is_no_reward(
    base: str, loop: LearningLoop, clock: Clock
) -> None:
    line = decision("x1", 0, 2, costs=[-1.0, -0.25])
    unjoined = decision("x2", 0, 2, costs=[0.0, 0.0])
    for outcome in unjoined["_outcomes"]:
        outcome["_o"] = []  # the exporter's label for a slot no observation joined
    assert post(base + V + "/logs/interactions", [line, unjoined]).status_code == 204
    clock.now += 1
    assert loop.train_once() == 1  # x1, both slots rewarded; x2 waits for its window
    assert store.get_event(loop._engine, "x1")["learned_value"] == pytest.approx(0.625)
    assert store.get_event(loop._engine, "x2")["state"] == store.PENDING


def test_a_single_slot_loop_refuses_multislot_decisions_as_it_refuses_multislot_ranks(
    database: str, clock: Clock
) -> None:
    single = opened(database, clock, multislot=False)
    try:
        with serving_in_thread(build_app(single, KEY)) as url:
            response = post(url + V + "/logs/interactions", [decision("s1", 0, 2)])
            assert response.status_code == 400
            assert response.json()["error"]["code"] == "InvalidMultiSlotApiAccess"
            assert store.count_events(single._engine) == 0
    finally:
        single.close()


def test_a_multislot_loop_refuses_single_slot_decisions(base: str, loop: LearningLoop) -> None:
    line = {"EventId": "one", "a": [1, 2], "p": [0.5, 0.5], "c": {"_multi": MULTI[:2]}}
    response = post(base + V + "/logs/interactions", [line])
    assert response.status_code == 400 and "ranks slots" in response.json()["error"]["message"]
    assert store.count_events(loop._engine) == 0


def _broken(change: str) -> dict[str, Any]:
    line = decision("bad", 1, 3)
    if change == "slot without _id":
        del line["c"]["_slots"][0]["_id"]
    elif change == "an excluded action chosen":
        line["_outcomes"][1]["_a"] = [0, 2, 3]  # pasta: not among the dessert slot's _inc
    elif change == "an action an earlier slot took":
        line["_outcomes"][1]["_a"] = [1, 2, 3]
    elif change == "one outcome short":
        line["_outcomes"].pop()
    elif change == "chosen with probability 0":
        line["_outcomes"][0]["_p"] = [0.0, 0.5, 0.25, 0.25]
    elif change == "a position past the actions":
        line["_outcomes"][0]["_a"] = [4, 0, 2, 3]
    elif change == "duplicate slot IDs":
        line["c"]["_slots"][1]["_id"] = line["_outcomes"][1]["_id"] = "main"
    elif change == "a position given as true":
        line["c"]["_slots"][1]["_inc"] = [True, 3]
    return line


@pytest.mark.parametrize(
    "change",
    [
        "slot without _id",
        "an excluded action chosen",
        "an action an earlier slot took",
        "one outcome short",
        "chosen with probability 0",
        "a position past the actions",
        "duplicate slot IDs",
        "a position given as true",
    ],
)
def test_a_bad_multislot_line_is_400_and_writes_nothing(base: str, loop: LearningLoop, change: str) -> None:
    response = post(base + V + "/logs/interactions", [decision("good", 0, 2), _broken(change)])
    assert response.status_code == 400, response.text
    assert store.count_events(loop._engine) == 0


@pytest.mark.parametrize(
    ("observation", "says"),
    [
        ({"EventId": "m1", "v": 1.0}, "with slots"),  # no slot: which slot would it reward?
        ({"EventId": "m1", "Index": "side", "v": 1.0}, "not a slot"),
        ({"EventId": "m1", "Index": 0, "v": 1.0}, "slot ID"),
    ],
)
def test_an_observation_that_does_not_fit_its_multislot_event_is_400_and_writes_nothing(
    base: str, loop: LearningLoop, observation: dict[str, Any], says: str
) -> None:
    assert post(base + V + "/logs/interactions", [decision("m1", 1, 3)]).status_code == 204
    good = {"EventId": "m1", "Index": "main", "v": 1.0}
    response = post(base + V + "/logs/observations", [good, observation])
    assert response.status_code == 400 and says in response.json()["error"]["message"]
    assert store.event_rewards(loop._engine, "m1") == []


def test_a_seeded_log_of_imported_multislot_decisions_teaches_each_slots_favourite(
    base: str, loop: LearningLoop, clock: Clock
) -> None:
    favourite = {"main": "ramen", "dessert": "mochi"}
    draw = random.Random(7)
    lines = []
    for i in range(400):  # another system's uniform exploration, rewarded 1 for each slot's favourite
        main = draw.randrange(4)
        dessert = draw.choice([d for d in (2, 3) if d != main])
        costs = [-float(NAMES[main] == favourite["main"]), -float(NAMES[dessert] == favourite["dessert"])]
        lines.append(decision(f"seed{i}", main, dessert, costs=costs))
    assert post(base + V + "/logs/interactions", lines).status_code == 204
    clock.now += 1
    assert loop.train_once() == 400
    request = {
        "contextFeatures": [{"user": {"tier": "gold"}}],
        "actions": [{"id": a["_tag"], "features": a["j"]} for a in MULTI],
        "slots": [
            {"id": "main", "features": [{"slot": {"course": "main"}}], "baselineAction": "pasta"},
            {
                "id": "dessert",
                "features": [{"slot": {"course": "dessert"}}],
                "baselineAction": "tiramisu",
                "excludedActions": ["pasta", "ramen"],
            },
        ],
    }
    hits: collections.Counter[str] = collections.Counter()
    for i in range(100):
        answer = requests.post(
            base + V + "/multislot/rank", json={**request, "eventId": f"look{i}"}, headers=HEADERS, timeout=10
        )
        assert answer.status_code == 201, answer.text
        hits.update(s["id"] for s in answer.json()["slots"] if s["rewardActionId"] == favourite[s["id"]])
    # Epsilon 0.2: a slot that learned its favourite serves it about 85% (main) or 90% (dessert) of the time.
    assert hits["main"] >= 70 and hits["dessert"] >= 70, hits


def test_a_plain_reward_for_a_multislot_event_is_400_naming_the_slot_reward_and_decides_nothing(
    base: str, loop: LearningLoop, clock: Clock
) -> None:
    ranked = requests.post(
        base + V + "/multislot/rank",
        json={
            "eventId": "ms1",
            "actions": [{"id": a["_tag"], "features": a["j"]} for a in MULTI],
            "slots": [
                {"id": "main", "baselineAction": "pasta"},
                {"id": "dessert", "baselineAction": "mochi"},
            ],
        },
        headers=HEADERS,
        timeout=10,
    )
    assert ranked.status_code == 201
    response = requests.post(
        base + V + "/events/ms1/reward", json={"value": 1.0}, headers=HEADERS, timeout=10
    )
    assert response.status_code == 400
    assert "/multislot/events/{eventId}/reward" in response.json()["error"]["message"]
    with pytest.raises(InvalidRequest, match="ranked with slots"):
        loop.reward("ms1", 1.0)  # a thread's own commit, the other writer path
    row = store.get_event(loop._engine, "ms1")
    assert row["first_reward"] is None and row["reward_count"] == 0
    assert store.event_rewards(loop._engine, "ms1") == []
    clock.now += 1
    assert loop.train_once() == 0  # not decided early
    slot_rewards = {"reward": [{"slotId": "main", "value": 1.0}, {"slotId": "dessert", "value": 0.0}]}
    response = requests.post(
        base + V + "/multislot/events/ms1/reward", json=slot_rewards, headers=HEADERS, timeout=10
    )
    assert response.status_code == 204
    assert loop.train_once() == 1


def test_features_logged_as_personalizer_logs_them_import_for_context_and_slots(
    base: str, loop: LearningLoop
) -> None:
    line = decision("p1", 1, 3)
    line["c"]["FromUrl"] = [
        {"weather": "rain"},
        {"season": "winter"},
    ]  # a features list, as Personalizer logs one
    line["c"]["_slots"][0] = {"_id": "main", "sj": [{"size": "large", "position": "centre"}]}
    assert post(base + V + "/logs/interactions", [line]).status_code == 204
    row = store.get_event(loop._engine, "p1")
    assert {"weather": "rain"} in json.loads(row["context"]) and {"season": "winter"} in json.loads(
        row["context"]
    )
    assert json.loads(row["slots"])[0]["features"] == [{"size": "large", "position": "centre"}]


def test_in_one_group_commit_only_the_plain_reward_for_a_multislot_event_fails(
    database: str, clock: Clock
) -> None:
    loop = opened(database, clock, multislot=False)
    try:
        actions = [RankableAction(a["_tag"], a["j"]) for a in MULTI]
        loop.rank(RankRequest([{"user": "ana"}], actions, event_id="one"))
        loop.admin.set_policy(MULTISLOT_POLICY)  # the single-slot event stays in the log
        with serving_in_thread(build_app(loop, KEY)) as url:
            assert post(url + V + "/logs/interactions", [decision("ms", 1, 3)]).status_code == 204

        async def together() -> list[Any]:
            return await asyncio.gather(
                loop.reward_async("one", 1.0),
                loop.reward_async("ms", 1.0),
                loop.reward_async("nobody", 1.0),
                loop.activate_async("ms"),
                return_exceptions=True,
            )

        outcomes = asyncio.run(together())
        assert outcomes[0] is None and outcomes[3] is None
        assert isinstance(outcomes[1], InvalidRequest) and isinstance(outcomes[2], EventNotFound)
        assert [value for value, _ in store.event_rewards(loop._engine, "one")] == [1.0]
        assert store.event_rewards(loop._engine, "ms") == []
        assert store.get_event(loop._engine, "ms")["activated_at"] == clock.now
    finally:
        loop.close()

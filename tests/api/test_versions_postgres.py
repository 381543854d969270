"""The version router end to end on PostgreSQL: Microsoft's clients rank and reward, the loop learns.

Three versions, three ways in (the old client on v1.0's path, the newer SDK with `?api-version=`, multi-slot
on v1.1-preview.3) over one loop whose event log is PostgreSQL (asyncpg in the hot path); each decision is
found in the database with its reward and learned once. Needs TEST_DATABASE_URL; skipped without it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from azure.ai.personalizer import PersonalizerClient as NewClient
from azure.cognitiveservices.personalizer import PersonalizerClient as OldClient
from azure.cognitiveservices.personalizer.models import RankableAction, RankRequest
from azure.core.credentials import AzureKeyCredential
from fake_clock import Clock
from msrest.authentication import CognitiveServicesCredentials
from sqlalchemy import select

from bot.api.asgi import build_app
from bot.api.server import serving_in_thread
from bot.personalizer.local import store
from bot.personalizer.local.loop import LearningLoop, open_learning_loop
from bot.personalizer.local.settings import LoopSettings

pytestmark = pytest.mark.postgres
KEY = "versions-postgres-key"
ACTIONS = [
    {"id": "pasta", "features": [{"taste": "salty"}]},
    {"id": "ice cream", "features": [{"taste": "sweet"}]},
    {"id": "salad", "features": [{"taste": "salty", "green": True}]},
]
CONTEXT = [{"time": "evening"}, {"user": {"tier": "gold"}}]


@pytest.fixture
def loop(fresh_database: Any, clock: Clock) -> Iterator[LearningLoop]:
    learning_loop = open_learning_loop(
        fresh_database("postgresql"), LoopSettings(reward_wait_time=60.0), clock=clock, run_trainer=False
    )
    assert learning_loop._engine.dialect.name == "postgresql"
    yield learning_loop
    learning_loop.close()


@pytest.fixture
def base(loop: LearningLoop) -> Iterator[str]:
    with serving_in_thread(build_app(loop, KEY)) as url:
        yield url


def test_the_old_client_on_v1_0_and_the_new_sdk_on_2022_09_01_preview_rank_reward_and_learn(
    base: str, loop: LearningLoop, clock: Clock
) -> None:
    old = OldClient(base, CognitiveServicesCredentials(KEY))  # builds {Endpoint}/personalizer/v1.0
    request = RankRequest(
        actions=[RankableAction(id=a["id"], features=a["features"]) for a in ACTIONS],
        context_features=CONTEXT,
        event_id="old-1",
    )
    assert old.rank(rank_request=request).event_id == "old-1"
    old.events.reward(event_id="old-1", value=1.0)

    new = NewClient(base, AzureKeyCredential(KEY))  # sends /personalizer/rank?api-version=2022-09-01-preview
    ranked = new.rank({"actions": ACTIONS, "contextFeatures": CONTEXT, "eventId": "new-1"})
    assert ranked["eventId"] == "new-1" and ranked["rewardActionId"] in {a["id"] for a in ACTIONS}
    new.reward("new-1", {"value": 0.5})

    for event_id, value in (("old-1", 1.0), ("new-1", 0.5)):
        event = store.get_event(loop._engine, event_id)
        assert event is not None and event["state"] != store.LEARNED
        assert [v for v, _ in store.event_rewards(loop._engine, event_id)] == [value]
    clock.now += 61
    assert loop.train_once() == 2
    assert loop.train_once() == 0  # learned once
    for event_id in ("old-1", "new-1"):
        assert store.get_event(loop._engine, event_id)["state"] == store.LEARNED


def test_multi_slot_on_v1_1_preview_3_ranks_rewards_a_slot_and_learns(
    base: str, loop: LearningLoop, clock: Clock
) -> None:
    root = base + "/personalizer/v1.1-preview.3"
    headers = {"Ocp-Apim-Subscription-Key": KEY}
    policy = {"name": "enable multi slot", "arguments": "--ccb_explore_adf --epsilon 0.2"}
    assert requests.put(root + "/configurations/policy", json=policy, headers=headers, timeout=10).ok
    body = {
        "contextFeatures": CONTEXT,
        "actions": ACTIONS,
        "slots": [
            {"id": "main", "baselineAction": "pasta", "features": [{"size": "large"}]},
            {"id": "dessert", "baselineAction": "ice cream", "excludedActions": ["salad"]},
        ],
        "eventId": "multi-1",
    }
    ranked = requests.post(root + "/multislot/rank", json=body, headers=headers, timeout=10)
    assert ranked.status_code == 201, ranked.text
    chosen = {slot["id"]: slot["rewardActionId"] for slot in ranked.json()["slots"]}
    assert set(chosen) == {"main", "dessert"} and chosen["dessert"] != "salad"
    reward = {"reward": [{"slotId": "dessert", "value": 1.0}]}
    answer = requests.post(
        root + "/multislot/events/multi-1/reward", json=reward, headers=headers, timeout=10
    )
    assert answer.status_code == 204, answer.text

    assert store.count_events(loop._engine) == 1
    with loop._engine.connect() as conn:
        kept = conn.execute(select(store.rewards.c.slot_id, store.rewards.c.value)).all()
    assert [tuple(row) for row in kept] == [("dessert", 1.0)]
    clock.now += 61
    assert loop.train_once() == 1
    assert store.get_event(loop._engine, "multi-1")["state"] == store.LEARNED

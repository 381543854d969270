"""Logs from elsewhere (v1.1-preview.2 on): decisions and rewards imported over HTTP join and train as ranks do."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from fake_clock import Clock

from bot.api.asgi import build_app
from bot.api.server import serving_in_thread
from bot.personalizer.local import store
from bot.personalizer.local.loop import LearningLoop, open_learning_loop
from bot.personalizer.local.settings import LoopSettings

KEY = "imported-logs-key"
HEADERS = {"Ocp-Apim-Subscription-Key": KEY, "Content-Type": "application/octet-stream"}
MULTI = [
    {"_tag": "pasta", "j": [{"taste": "salty"}]},
    {"_tag": "ice cream", "j": [{"taste": "sweet"}]},
    {"_tag": "salad", "j": [{"taste": "salty", "green": True}]},
]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def loop(request: pytest.FixtureRequest, fresh_database: Any, clock: Clock) -> Iterator[LearningLoop]:
    """The loop on SQLite, and on PostgreSQL (TEST_DATABASE_URL), whose event log is written another way."""
    learning_loop = open_learning_loop(
        fresh_database(request.param), LoopSettings(reward_wait_time=60.0), clock=clock, run_trainer=False
    )
    yield learning_loop
    learning_loop.close()


@pytest.fixture
def base(loop: LearningLoop) -> Iterator[str]:
    with serving_in_thread(build_app(loop, KEY)) as url:
        yield url


def decision(event_id: str, chosen: int, probability: float, **extra: Any) -> dict[str, Any]:
    ranked = [chosen] + [i for i in (1, 2, 3) if i != chosen]
    rest = (1 - probability) / 2
    return {
        "Version": "1",
        "EventId": event_id,
        "a": ranked,
        "c": {"user": {"tier": "gold"}, "time": "evening", "_multi": MULTI},
        "p": [probability, rest, rest],
        "VWState": {"m": "elsewhere/1"},
        **extra,
    }


def post(url: str, lines: list[Any]) -> requests.Response:
    body = "\n".join(json.dumps(line) for line in lines).encode()
    return requests.post(url, data=body, headers=HEADERS, timeout=10)


def test_imported_decisions_and_rewards_are_learned_as_ranks_are(
    base: str, loop: LearningLoop, clock: Clock
) -> None:
    logs = base + "/personalizer/v1.1-preview.2/logs"
    assert post(logs + "/interactions", [decision("e1", 3, 0.8), decision("e2", 1, 0.6)]).status_code == 204
    first = store.get_event(loop._engine, "e1")
    assert first is not None and first["chosen_id"] == "salad" and first["probability"] == 0.8
    assert first["deadline"] == clock.now + 60.0  # joined within rewardWaitTime from its arrival
    observations = [
        {"EventId": "e1", "v": 1.0},
        {"EventId": "e2", "ActionTaken": True},
        {"EventId": "zz", "v": 1},
    ]
    assert post(logs + "/observations", observations).status_code == 204
    assert store.event_rewards(loop._engine, "e1") == [(1.0, clock.now)]
    assert store.get_event(loop._engine, "e2")["activated_at"] == clock.now
    clock.now += 61
    assert loop.train_once() == 2  # e1 with its reward, e2 with the default reward
    assert store.get_event(loop._engine, "e1")["state"] == store.LEARNED


def test_an_exported_log_line_brings_its_reward_and_a_known_event_id_is_skipped(
    base: str, loop: LearningLoop
) -> None:
    url = base + "/personalizer/logs/interactions?api-version=2022-09-01-preview"
    assert post(url, [decision("x1", 2, 0.5, _label_cost=-1.0)]).status_code == 204
    assert [value for value, _ in store.event_rewards(loop._engine, "x1")] == [1.0]
    before = store.get_event(loop._engine, "x1")
    assert post(url, [decision("x1", 1, 0.9)]).status_code == 204
    assert store.get_event(loop._engine, "x1") == before  # the first decision stays
    assert store.count_events(loop._engine) == 1


@pytest.mark.parametrize(
    "line",
    [
        {"EventId": "b", "a": [1], "p": [1.0]},  # no context
        {"EventId": "b", "a": [4], "p": [1.0], "c": {"_multi": MULTI}},  # no such action
        {"EventId": "b", "a": [1], "p": [0.0], "c": {"_multi": MULTI}},  # chosen with probability 0
        {"a": [1], "p": [1.0], "c": {"_multi": MULTI}},  # no EventId
    ],
)
def test_a_bad_line_is_400_and_writes_nothing(base: str, loop: LearningLoop, line: dict[str, Any]) -> None:
    url = base + "/personalizer/v1.1-preview.3/logs/interactions"
    response = post(url, [decision("good", 1, 0.9), line])
    assert response.status_code == 400 and response.json()["error"]["code"] == "InvalidRequest"
    assert store.count_events(loop._engine) == 0


def test_only_the_versions_that_have_them_serve_them(base: str) -> None:
    for version in ("v1.0", "v1.1-preview.1"):
        response = post(f"{base}/personalizer/{version}/logs/interactions", [decision("v", 1, 0.9)])
        assert response.status_code == 404, version

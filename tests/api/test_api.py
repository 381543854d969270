"""The REST service over the real learning loop (SQLite, injected clock), driven over loopback HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from fake_clock import Clock

from bot.api.asgi import build_app
from bot.api.server import serving_in_thread
from bot.personalizer.local import DEFAULT_POLICIES, store
from bot.personalizer.local.loop import LearningLoop, open_learning_loop
from bot.personalizer.local.settings import LoopSettings

KEY = "service-key-for-tests"
BASE = "/personalizer/v1.0"
HEADERS = {"Ocp-Apim-Subscription-Key": KEY}
SEED_ACTIONS = [
    {"id": "pasta", "features": [{"taste": "salty", "spice_level": "medium"}, {"nutrition_level": 5, "cuisine": "italian"}]},
    {"id": "ice cream", "features": [{"taste": "sweet", "spice_level": "none"}, {"nutritional_level": 2}]},
    {"id": "juice", "features": [{"taste": "sweet", "spice_level": "none"}, {"nutritional_level": 5}, {"drink": True}]},
    {"id": "salad", "features": [{"taste": "salty", "spice_level": "none"}, {"nutritional_level": 2}]},
]  # fmt: skip


@pytest.fixture
def loop(tmp_path: Path, clock: Clock) -> Iterator[LearningLoop]:
    learning_loop = open_learning_loop(
        f"sqlite:///{tmp_path}/loop.db",
        LoopSettings(model_export_frequency=1.0),
        clock=clock,
        run_trainer=False,
    )
    yield learning_loop
    learning_loop.close()


@pytest.fixture
def url(loop: LearningLoop) -> Iterator[str]:
    with serving_in_thread(build_app(loop, KEY)) as base:
        yield base + BASE


def rank(url: str, **changes: Any) -> requests.Response:
    body: dict[str, Any] = {
        "contextFeatures": [{"taste_preference": "salty"}, {"time_of_day": "evening"}],
        "actions": SEED_ACTIONS,
        "excludedActions": ["juice"],
    }
    body.update(changes)
    return requests.post(url + "/rank", json=body, headers=HEADERS, timeout=10)


def reward(url: str, event_id: str, value: Any) -> requests.Response:
    return requests.post(
        f"{url}/events/{event_id}/reward", json={"value": value}, headers=HEADERS, timeout=10
    )


def events_logged(loop: LearningLoop) -> int:
    return store.count_events(loop._engine)


def probabilities(response: requests.Response) -> dict[str, float]:
    return {entry["id"]: entry["probability"] for entry in response.json()["ranking"]}


def test_rank_logs_the_event_and_ranks_every_action(url: str, loop: LearningLoop) -> None:
    response = rank(url, eventId="seed-1")
    assert response.status_code == 201
    body = response.json()
    assert body["eventId"] == "seed-1"
    assert sorted(probabilities(response)) == ["ice cream", "juice", "pasta", "salad"]
    assert probabilities(response)["juice"] == 0.0
    assert sum(probabilities(response).values()) == pytest.approx(1.0)
    assert body["rewardActionId"] != "juice"
    assert body["ranking"][0]["id"] == body["rewardActionId"]
    assert events_logged(loop) == 1
    logged = requests.get(url + "/logs/properties", headers=HEADERS, timeout=10).json()
    assert logged["dateRange"]["from"].endswith("Z")


def test_the_event_id_is_made_when_absent_and_seeds_the_draw(url: str) -> None:
    made = rank(url).json()["eventId"]
    assert made and len(made) <= 256
    first = rank(url, eventId="same-seed-a").json()["rewardActionId"]
    assert rank(url, eventId="same-seed-b").status_code == 201
    assert first in {"pasta", "ice cream", "salad"}


def test_a_reused_event_id_is_answered_as_azure_did_but_the_first_event_stays(
    url: str, loop: LearningLoop
) -> None:
    first = rank(url, eventId="reused").json()
    assert reward(url, "reused", 1.0).status_code == 204
    logged = store.get_event(loop._engine, "reused")
    again = rank(url, eventId="reused", excludedActions=["juice", first["rewardActionId"]])
    assert again.status_code == 201  # Azure's answer (Microsoft's SDK recordings)
    assert again.json()["eventId"] == "reused"
    assert events_logged(loop) == 1
    assert store.get_event(loop._engine, "reused") == logged  # its choice, and the reward it got, unchanged
    assert store.event_rewards(loop._engine, "reused") == [(1.0, logged["ranked_at"])]


def test_a_rank_without_context_features_is_ranked_as_azure_did(url: str, loop: LearningLoop) -> None:
    response = rank(url, contextFeatures=None)
    assert response.status_code == 201, response.text
    assert rank(url, contextFeatures=[{"_hidden": 1}]).status_code == 201
    assert events_logged(loop) == 2


@pytest.mark.parametrize(
    ("changes", "target"),
    [
        ({"contextFeatures": [{"scores": ["a", "b"]}]}, "contextFeatures"),
        ({"excludedActions": ["pasta", "ice cream", "juice", "salad"]}, "excludedActions"),
        ({"actions": [SEED_ACTIONS[0], SEED_ACTIONS[0]]}, "actions[1].id"),
        ({"actions": [{"id": f"a{i}", "features": []} for i in range(51)]}, "actions"),
        ({"actions": [{"id": "x" * 257, "features": []}]}, "actions[0].id"),
        ({"actions": [{"id": "tab\tid", "features": []}]}, "actions[0].id"),
        ({"actions": [{"id": "a", "features": [{"nested": {"list": ["x"]}}]}]}, "actions[0].features"),
        ({"eventId": ""}, "eventId"),
        ({"eventId": "x" * 257}, "eventId"),
        ({"deferActivation": 1}, "deferActivation"),
        ({"actions": None}, "actions"),
    ],
)
def test_every_rank_validation_error_is_400_and_logs_nothing(
    url: str, loop: LearningLoop, changes: dict[str, Any], target: str
) -> None:
    response = rank(url, **changes)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "BadRequest"
    assert response.json()["error"]["target"] == target
    assert events_logged(loop) == 0
    assert requests.get(url + "/logs/properties", headers=HEADERS, timeout=10).json() == {}


def test_reward_is_stored_and_learned_once(url: str, loop: LearningLoop, clock: Clock) -> None:
    event_id = rank(url).json()["eventId"]
    assert reward(url, event_id, 1.0).status_code == 204
    assert reward(url, event_id, "0.0").status_code == 204  # kept, but earliest already decided
    assert store.event_rewards(loop._engine, event_id) == [(1.0, clock.now), (0.0, clock.now)]
    clock.now += 2
    assert loop.train_once() == 1
    assert loop.train_once() == 0
    assert store.get_event(loop._engine, event_id)["state"] == store.LEARNED


@pytest.mark.parametrize("value", [1.5, -2, "lots", None, True])
def test_rewards_outside_personalizers_range_are_400(url: str, value: Any) -> None:
    event_id = rank(url).json()["eventId"]
    response = reward(url, event_id, value)
    assert response.status_code == 400
    assert response.json()["error"]["target"] == "value"


def test_unknown_events_are_204_as_on_azure_and_nothing_is_kept(url: str, loop: LearningLoop) -> None:
    assert reward(url, "never-ranked", 1).status_code == 204
    response = requests.post(url + "/events/never-ranked/activate", headers=HEADERS, timeout=10)
    assert response.status_code == 204
    assert store.event_rewards(loop._engine, "never-ranked") == []
    assert events_logged(loop) == 0


def test_deferred_event_is_activated(url: str, loop: LearningLoop) -> None:
    event_id = rank(url, deferActivation=True).json()["eventId"]
    response = requests.post(f"{url}/events/{event_id}/activate", headers=HEADERS, timeout=10)
    assert response.status_code == 204
    assert store.get_event(loop._engine, event_id)["activated_at"] is not None


def test_the_service_learns_a_preference_through_rank_and_reward(
    url: str, loop: LearningLoop, clock: Clock
) -> None:
    """Salty evenings: salad is liked, nothing else. After a few model updates salad leads."""
    before = probabilities(rank(url, eventId="probe-before"))["salad"]
    for round_number in range(6):
        for i in range(40):
            body = rank(url, eventId=f"r{round_number}-{i}").json()
            assert (
                reward(url, body["eventId"], 1.0 if body["rewardActionId"] == "salad" else 0.0).status_code
                == 204
            )
        clock.now += 2
        assert loop.train_once() == 40
    after = probabilities(rank(url, eventId="probe-after"))["salad"]
    assert before == pytest.approx(1 / 3)
    assert after > 0.6, after


def test_service_configuration_put_is_applied_at_once_and_persisted(url: str, loop: LearningLoop) -> None:
    current = requests.get(url + "/configurations/service", headers=HEADERS, timeout=10).json()
    assert current["modelExportFrequency"] == "PT1S"  # ISO-8601, as v1.0's schema says
    changed = dict(current, learningMode="Apprentice", rewardWaitTime="PT30S", defaultReward=-0.5)
    response = requests.put(url + "/configurations/service", json=changed, headers=HEADERS, timeout=10)
    assert response.status_code == 200
    answered = response.json()
    assert answered.pop("lastConfigurationEditDate").endswith("Z")
    changed.pop("lastConfigurationEditDate", None)
    assert answered == changed
    ranked = rank(url)  # Apprentice: the baseline, the first action not excluded, with certainty
    assert ranked.json()["rewardActionId"] == "pasta"
    assert probabilities(ranked)["pasta"] == 1.0
    assert loop.settings.reward_wait_time == 30.0
    assert store.load_settings(loop._engine)["default_reward"] == -0.5


def test_policy_put_checks_the_arguments_with_vw(url: str) -> None:
    custom = {"name": "eps", "arguments": "--cb_explore_adf --epsilon 0.1 -q CA"}
    response = requests.put(url + "/configurations/policy", json=custom, headers=HEADERS, timeout=10)
    assert response.status_code == 200
    assert response.json()["arguments"] == "--cb_explore_adf --epsilon 0.1 -q CA"
    bad = {"name": "bad", "arguments": "--cb_explore_adf --no_such_flag"}
    refused = requests.put(url + "/configurations/policy", json=bad, headers=HEADERS, timeout=10)
    assert refused.status_code == 400
    assert refused.json()["error"]["target"] == "arguments"
    got = requests.get(url + "/configurations/policy", headers=HEADERS, timeout=10).json()
    assert got["arguments"] == "--cb_explore_adf --epsilon 0.1 -q CA"
    assert got["name"] == "eps"  # the name sent, as Azure answers
    reset = requests.delete(url + "/configurations/policy", headers=HEADERS, timeout=10).json()
    assert reset["name"] == "default"


@pytest.mark.parametrize("default_policy", ["project", "azure"])
def test_the_default_policy_is_named_default_whichever_the_deployment_chose(
    tmp_path: Path, clock: Clock, default_policy: str
) -> None:
    chosen, other = (
        DEFAULT_POLICIES[default_policy],
        DEFAULT_POLICIES[{"project": "azure", "azure": "project"}[default_policy]],
    )
    settings = LoopSettings(default_policy=default_policy, policy=chosen)
    loop = open_learning_loop(f"sqlite:///{tmp_path}/named.db", settings, clock=clock, run_trainer=False)
    try:
        with serving_in_thread(build_app(loop, KEY)) as base:
            policy_url = base + BASE + "/configurations/policy"
            assert requests.get(policy_url, headers=HEADERS, timeout=10).json() == {
                "name": "default",
                "arguments": chosen,
            }
            unnamed = {
                "arguments": other
            }  # the other default, sent without a name, is not this one's default
            assert (
                requests.put(policy_url, json=unnamed, headers=HEADERS, timeout=10).json()["name"] == "custom"
            )
            reset = requests.delete(policy_url, headers=HEADERS, timeout=10).json()
            assert reset == {"name": "default", "arguments": chosen}
    finally:
        loop.close()


def test_model_export_reset_and_import(url: str, loop: LearningLoop, clock: Clock) -> None:
    for i in range(30):
        body = rank(url, eventId=f"m{i}").json()
        reward(url, body["eventId"], 1.0 if body["rewardActionId"] == "salad" else 0.0)
    clock.now += 2
    loop.train_once()
    trained = probabilities(rank(url, eventId="probe-trained"))
    assert trained["salad"] != pytest.approx(1 / 3)
    exported = requests.get(url + "/model", headers=HEADERS, timeout=10)
    assert exported.status_code == 200 and len(exported.content) > 100

    clock.now += 10
    assert requests.delete(url + "/model", headers=HEADERS, timeout=10).status_code == 204
    assert probabilities(rank(url, eventId="probe-reset"))["salad"] == pytest.approx(1 / 3)

    octet = dict(HEADERS, **{"Content-Type": "application/octet-stream"})
    clock.now += 10
    assert requests.put(url + "/model", data=exported.content, headers=octet, timeout=10).status_code == 204
    assert probabilities(rank(url, eventId="probe-imported")) == pytest.approx(trained)
    props = requests.get(url + "/model/properties", headers=HEADERS, timeout=10).json()
    assert props["lastModifiedTime"].endswith("Z") and props["creationTime"].endswith("Z")
    junk = requests.put(url + "/model", data=b"not a model", headers=octet, timeout=10)
    assert junk.status_code == 400


def test_delete_logs_forgets_every_event(url: str, loop: LearningLoop) -> None:
    event_id = rank(url).json()["eventId"]
    assert requests.delete(url + "/logs", headers=HEADERS, timeout=10).status_code == 204
    assert events_logged(loop) == 0
    assert reward(url, event_id, 1).status_code == 204  # as on Azure; nothing is kept
    assert store.event_rewards(loop._engine, event_id) == []
    assert requests.get(url + "/logs/properties", headers=HEADERS, timeout=10).json() == {}

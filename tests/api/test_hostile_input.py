"""Hostile requests to `python app.py personalizer`: each is refused alone, and everyone else is still served."""

from __future__ import annotations

import copy
import json
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from hostile_service import MENU, Service, bystander_pairs, rank_body, stored_rewards

SURROGATE = "\ud800"
NUL = "\x00"


def _database_urls() -> list[Any]:
    urls: list[Any] = ["sqlite"]
    urls.append(pytest.param("postgres", marks=pytest.mark.postgres))
    return urls


def _fresh_database(kind: str, tmp_path: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path}/hostile.db"
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        pytest.skip("TEST_DATABASE_URL is not set")
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"pz_hostile_{uuid.uuid4().hex[:12]}"
    admin = create_engine(make_url(base).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(base).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="module", params=_database_urls())
def service(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """One service per database kind for this module's tests."""
    running = Service(_fresh_database(request.param, tmp_path_factory.mktemp("hostile")))
    running.wait_healthy()
    yield running
    log = running.stop()
    assert "Traceback" not in log, log


def _serve_a_model(service: Service) -> None:
    """Publish a model, so that ranks go through Vowpal Wabbit's predict rather than the uniform draw."""
    exported = service.call("GET", "/model")
    assert exported.status_code == 200
    assert service.call("PUT", "/model", raw=exported.content).status_code == 204


def _set(body: dict[str, Any], field: str, value: Any) -> dict[str, Any]:
    """A copy of a rank body with `value` put where `field` says."""
    body = copy.deepcopy(body)
    if field == "eventId":
        body["eventId"] = value
    elif field == "actions[0].id":
        body["actions"][0]["id"] = value
    elif field == "actions[1].features.name":
        body["actions"][1]["features"] = [{value: "x"}]
    elif field == "actions[1].features.value":
        body["actions"][1]["features"] = [{"taste": value}]
    elif field == "actions[1].features.nested":
        body["actions"][1]["features"] = [{"taste": {"deep": {value: 1}}}]
    elif field == "contextFeatures.name":
        body["contextFeatures"] = [{value: 1}]
    elif field == "contextFeatures.value":
        body["contextFeatures"] = [{"time": value}]
    elif field == "excludedActions[0]":
        body["excludedActions"] = [value]
    return body


FIELDS = [
    ("eventId", "eventId"),
    ("actions[0].id", "actions[0].id"),
    ("actions[1].features.name", "actions[1].features"),
    ("actions[1].features.value", "actions[1].features"),
    ("actions[1].features.nested", "actions[1].features"),
    ("contextFeatures.name", "contextFeatures"),
    ("contextFeatures.value", "contextFeatures"),
    ("excludedActions[0]", "excludedActions[0]"),
]


@pytest.mark.parametrize("served", [False, True], ids=["no-model", "model"])
@pytest.mark.parametrize(
    "text", [SURROGATE, "a" + SURROGATE + "b", NUL, "a\udfffz"], ids=["lone", "inner", "nul", "low"]
)
@pytest.mark.parametrize("field,target", FIELDS, ids=[f for f, _ in FIELDS])
def test_unstorable_text_is_a_400_naming_the_field(
    service: Service, served: bool, text: str, field: str, target: str
) -> None:
    if served:
        _serve_a_model(service)
    else:
        assert service.call("DELETE", "/model").status_code == 204
    raw = json.dumps(_set(rank_body(uuid.uuid4().hex), field, text)).encode()  # ASCII: \ud800 escapes
    answer = service.post("/rank", raw=raw)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["target"].startswith(target), answer.json()
    assert service.health().status_code == 200
    served_ids = bystander_pairs(service, count=5)
    assert stored_rewards(service.database_url, served_ids) == {event_id: 1 for event_id in served_ids}


@pytest.mark.parametrize("path_id", ["%ED%A0%80", "%00", "a%00b"])
def test_unstorable_event_ids_in_the_path_are_400s(service: Service, path_id: str) -> None:
    for operation, body in (("reward", {"value": 1}), ("activate", None)):
        answer = service.post(f"/events/{path_id}/{operation}", body if body else {})
        assert answer.status_code in (400, 404), answer.text
        assert answer.json()["error"]["target"] == "eventId"
    bystander_pairs(service, count=5)


def test_a_bad_request_never_fails_its_batch_mates(service: Service) -> None:
    """Bad ranks sent while normal ones are in flight: every normal one is answered and stored."""
    _serve_a_model(service)
    results: list[int] = []
    bad = json.dumps(_set(rank_body(), "actions[0].id", SURROGATE)).encode()

    def hammer() -> None:
        for _ in range(30):
            results.append(service.post("/rank", raw=bad).status_code)

    threads = [threading.Thread(target=hammer) for _ in range(3)]
    for thread in threads:
        thread.start()
    served_ids = bystander_pairs(service, count=20)
    for thread in threads:
        thread.join()
    assert set(results) == {400}
    assert stored_rewards(service.database_url, served_ids) == {event_id: 1 for event_id in served_ids}


HUGE = "1" + "0" * 400


@pytest.mark.parametrize(
    "path,raw",
    [
        (
            "/rank",
            b'{"contextFeatures":[{"n":' + HUGE.encode() + b'}],"actions":[{"id":"a","features":[{"x":1}]}]}',
        ),
        (
            "/rank",
            b'{"contextFeatures":[{"n":1}],"actions":[{"id":"a","features":[{"x":' + HUGE.encode() + b"}]}]}",
        ),
        (
            "/rank",
            b'{"contextFeatures":[{"n":[1,'
            + HUGE.encode()
            + b']}],"actions":[{"id":"a","features":[{"x":1}]}]}',
        ),
        ("/rank", b'{"contextFeatures":[{"n":1e400}],"actions":[{"id":"a","features":[{"x":1}]}]}'),
        (
            "/rank",
            b'{"contextFeatures":[{"n":1' + b"0" * 5000 + b'}],"actions":[{"id":"a","features":[{"x":1}]}]}',
        ),
    ],
    ids=["context-int", "action-int", "array-int", "1e400", "5000-digits"],
)
def test_numbers_too_large_in_features_are_400s(service: Service, path: str, raw: bytes) -> None:
    answer = service.post(path, raw=raw)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "BadRequest"
    bystander_pairs(service, count=3)


@pytest.mark.parametrize("value", [HUGE, "1e400", "-" + HUGE, '"' + HUGE + '"', '"1e400"'])
def test_rewards_too_large_are_400s_and_change_nothing(service: Service, value: str) -> None:
    event_id = uuid.uuid4().hex
    assert service.post("/rank", rank_body(event_id)).status_code == 201
    answer = service.post(f"/events/{event_id}/reward", raw=b'{"value":' + value.encode() + b"}")
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["target"] == "value"
    assert stored_rewards(service.database_url, [event_id]) == {}


def _configuration(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "rewardWaitTime": "PT10M",
        "defaultReward": 0,
        "rewardAggregation": "earliest",
        "explorationPercentage": 0.2,
        "modelExportFrequency": "PT1S",
        "logRetentionDays": 90,
    }
    body.update(changes)
    return body


@pytest.mark.parametrize(
    "field,value",
    [
        ("rewardWaitTime", "P999999999999D"),
        ("modelExportFrequency", "P999999999999D"),
        ("rewardWaitTime", "PT99999999999999999999999S"),
        ("modelExportFrequency", "10^400"),
        ("explorationPercentage", 10**400),
        ("defaultReward", 10**400),
        ("logRetentionDays", 10**400),
        ("defaultReward", -(10**400)),
    ],
)
def test_configuration_out_of_any_range_is_a_400(service: Service, field: str, value: Any) -> None:
    before = service.call("GET", "/configurations/service").json()
    raw = json.dumps(_configuration(**{field: value})).encode()
    answer = service.call("PUT", "/configurations/service", raw=raw)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["target"] == field
    assert service.call("GET", "/configurations/service").json() == before


def test_a_huge_context_is_refused_before_predicting(service: Service) -> None:
    """12,000 context features and 50 actions (144 KB) under the default policy: a quick 400."""
    _serve_a_model(service)
    body = {
        "contextFeatures": [{f"f{i}": i for i in range(12_000)}],
        "actions": [{"id": f"a{i}", "features": [{"x": i, "y": "z"}]} for i in range(50)],
    }
    done = threading.Event()
    answers: list[requests.Response] = []

    def attack() -> None:
        answers.append(service.post("/rank", body, timeout=120))
        done.set()

    attacker = threading.Thread(target=attack)
    attacker.start()
    served_ids = bystander_pairs(service, count=20)
    attacker.join(timeout=120)
    assert answers and answers[0].status_code == 400, answers[0].text if answers else "no answer"
    assert answers[0].json()["error"]["target"] == "contextFeatures"
    assert stored_rewards(service.database_url, served_ids) == {event_id: 1 for event_id in served_ids}


def test_features_per_action_are_bounded(service: Service) -> None:
    menu = copy.deepcopy(MENU)
    menu[2]["features"] = [{f"f{i}": i for i in range(5_000)}]
    answer = service.post("/rank", rank_body(menu=menu))
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["target"] == "actions[2].features"


@pytest.mark.parametrize(
    "variable,value",
    [
        ("PERSONALIZER_REWARD_WAIT_TIME", "P999999999999D"),
        ("PERSONALIZER_MODEL_UPDATE_FREQUENCY", "PT99999999999999999999999S"),
        ("PERSONALIZER_REWARD_WAIT_TIME", "10^400"),
        ("PERSONALIZER_EXPLORATION", "1" + "0" * 400),
        ("PERSONALIZER_DEFAULT_REWARD", "1e400"),
        ("PERSONALIZER_LOG_RETENTION_DAYS", "1" + "0" * 5000),
    ],
)
def test_configuration_from_the_environment_out_of_range_is_a_clean_start_up_error(
    tmp_path: Path, variable: str, value: str
) -> None:
    refused = Service(f"sqlite:///{tmp_path}/env.db", **{variable: value})
    code = refused.process.wait(timeout=30)
    log = refused.stop()
    assert code != 0
    assert variable in log, log
    assert "Traceback" not in log, log

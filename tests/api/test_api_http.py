"""The HTTP layer alone, over a stub loop: auth, body limits, malformed JSON, error bodies, status codes.

The stub lets us make the loop fail in ways the real one rarely does (unavailable storage, a bug), and
check that the HTTP layer answers Personalizer-shaped errors and never calls the loop for a bad request.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from bot.api.asgi import build_app
from bot.api.server import serving_in_thread
from bot.personalizer.base import (
    EventNotFound,
    InvalidRequest,
    RankedAction,
    RankerUnavailable,
    RankRequest,
    RankResult,
)
from bot.personalizer.local.settings import DEFAULT_POLICY, LoopSettings

KEY = "k-" + "5" * 30
BASE = "/personalizer/v1.0"


class StubLoop:
    """Records calls; `fail_with` makes the next loop call raise."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.fail_with: Exception | None = None
        self._settings = LoopSettings()
        self.events: set[str] = set()

    @property
    def settings(self) -> LoopSettings:
        return self._settings

    @property
    def admin(self) -> StubLoop:
        return self  # the real loop's operations live on loop.admin; this stub is both

    def _maybe_fail(self) -> None:
        if self.fail_with is not None:
            raise self.fail_with

    async def rank_async(self, request: RankRequest) -> RankResult:
        await asyncio.sleep(0)
        self._maybe_fail()
        self.calls.append(("rank", request))
        event_id = request.event_id or "made-up"
        self.events.add(event_id)
        ranking = [
            RankedAction(a.id, 0.0 if a.id in request.excluded_actions else 0.5) for a in request.actions
        ]
        chosen = next(r.id for r in ranking if r.probability)
        return RankResult(event_id=event_id, reward_action_id=chosen, ranking=ranking)

    async def reward_async(self, event_id: str, value: float) -> None:
        self._maybe_fail()
        if event_id not in self.events:
            raise EventNotFound(event_id)
        self.calls.append(("reward", (event_id, value)))

    async def activate_async(self, event_id: str) -> None:
        self._maybe_fail()
        if event_id not in self.events:
            raise EventNotFound(event_id)
        self.calls.append(("activate", event_id))

    def update_settings(self, settings: LoopSettings) -> None:
        self._maybe_fail()
        self._settings = settings.validated()

    def set_policy(self, args: str, name: str = "", as_sent: str = "") -> None:
        self._maybe_fail()
        if "--cb_explore_adf" not in args:
            raise InvalidRequest("policy must contain --cb_explore_adf", target="arguments")
        self._settings = replace(self._settings, policy=args, policy_name=name, policy_arguments=as_sent)

    def reset_policy(self) -> None:
        self._settings = replace(self._settings, policy=DEFAULT_POLICY, policy_name="", policy_arguments="")

    def export_model(self) -> bytes:
        return b"MODEL"

    def import_model(self, data: bytes) -> None:
        if not data.startswith(b"MODEL"):
            raise InvalidRequest("not a model")
        self.calls.append(("import", data))

    def reset_model(self) -> None:
        self.calls.append(("reset_model", None))

    def model_properties(self) -> dict[str, Any]:
        when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
        return {"creation_time": when, "last_modified_time": when}

    def log_properties(self) -> dict[str, Any]:
        return {"start_date": None}

    def delete_logs(self) -> None:
        self.calls.append(("delete_logs", None))


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, StubLoop]]:
    loop = StubLoop()
    with serving_in_thread(build_app(loop, KEY, max_json_bytes=64 * 1024)) as base:
        yield base + BASE, loop


@pytest.fixture
def stub(served: tuple[str, StubLoop]) -> StubLoop:
    loop = served[1]
    loop.__init__()  # type: ignore[misc]  # a fresh stub for each test, one server for the module
    return loop


@pytest.fixture
def url(served: tuple[str, StubLoop], stub: StubLoop) -> str:
    return served[0]


def post(url: str, path: str, body: Any = None, *, raw: bytes | None = None, key: str | None = KEY) -> Any:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Ocp-Apim-Subscription-Key"] = key
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    return requests.post(url + path, data=data, headers=headers, timeout=5)


def rank_body(**changes: Any) -> dict[str, Any]:
    body = {
        "contextFeatures": [{"taste": "salty"}],
        "actions": [{"id": "pasta", "features": [{"cuisine": "italian"}]}, {"id": "salad", "features": []}],
        "excludedActions": ["salad"],
        "eventId": "e1",
    }
    body.update(changes)
    return body


def assert_error(response: requests.Response, status: int, code: str, target: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    if target is not None:
        assert error.get("target") == target


def test_rank_answers_201_with_personalizer_names(url: str, stub: StubLoop) -> None:
    response = post(url, "/rank", rank_body())
    assert response.status_code == 201
    assert response.json() == {
        "ranking": [{"id": "pasta", "probability": 0.5}, {"id": "salad", "probability": 0.0}],
        "eventId": "e1",
        "rewardActionId": "pasta",
    }
    (kind, request), *_ = stub.calls
    assert kind == "rank"
    assert request.context_features == [{"taste": "salty"}]
    assert request.excluded_actions == ["salad"]
    assert request.defer_activation is False


@pytest.mark.parametrize("key", [None, "", "wrong", KEY + "x", KEY[:-1]])
def test_missing_or_wrong_key_is_401_and_nothing_reaches_the_loop(
    url: str, stub: StubLoop, key: str | None
) -> None:
    assert_error(post(url, "/rank", rank_body(), key=key), 401, "401")
    assert_error(post(url, "/events/e1/reward", {"value": 1}, key=key), 401, "401")
    headers = {} if key is None else {"Ocp-Apim-Subscription-Key": key}
    assert requests.get(url + "/configurations/service", headers=headers, timeout=5).status_code == 401
    assert requests.get(url + "/model", headers=headers, timeout=5).status_code == 401
    assert stub.calls == []


def test_health_and_openapi_need_no_key(url: str) -> None:
    root = url.removesuffix(BASE)
    assert requests.get(root + "/healthz", timeout=5).json() == {"status": "ok"}
    spec = requests.get(url + "/openapi.json", timeout=5).json()
    assert spec["servers"] == [{"url": "/personalizer/v1.0"}]
    assert "/rank" in spec["paths"]
    assert requests.get(root + "/openapi.json", timeout=5).json() == spec
    assert "openapi: 3.0.3" in requests.get(url + "/openapi.yaml", timeout=5).text
    # Only those exact paths are open: a look-alike elsewhere still needs the key.
    assert requests.get(url + "/model/openapi.json", timeout=5).status_code == 401


@pytest.mark.parametrize(
    "raw",
    [b"{", b"", b"   ", b"not json", b'{"actions": [}', b"\xff\xfe", b'{"value": NaN}', b"[" * 5000],
)
def test_malformed_json_is_400_bad_request(url: str, stub: StubLoop, raw: bytes) -> None:
    assert_error(post(url, "/rank", raw=raw), 400, "BadRequest")
    assert stub.calls == []


@pytest.mark.parametrize(
    ("body", "target"),
    [
        ([], "rankRequest"),
        ({}, "actions"),
        ({"actions": []}, "actions"),
        ({"actions": "pasta"}, "actions"),
        ({"actions": ["pasta"]}, "actions[0]"),
        ({"actions": [{"features": []}]}, "actions[0].id"),
        ({"actions": [{"id": 7, "features": []}]}, "actions[0].id"),
        ({"actions": [{"id": "", "features": []}]}, "actions[0].id"),
        ({"actions": [{"id": "a"}]}, "actions[0].features"),
        ({"actions": [{"id": "a", "features": {"x": 1}}]}, "actions[0].features"),
        ({"actions": [{"id": "a", "features": [1]}]}, "actions[0].features[0]"),
        (rank_body(contextFeatures={"taste": "salty"}), "contextFeatures"),
        (rank_body(contextFeatures=["salty"]), "contextFeatures[0]"),
        (rank_body(excludedActions="salad"), "excludedActions"),
        (rank_body(excludedActions=[1]), "excludedActions[0]"),
        (rank_body(eventId=12), "eventId"),
        (rank_body(eventId="x" * 257), "eventId"),
        (rank_body(deferActivation="yes"), "deferActivation"),
    ],
)
def test_rank_type_errors_are_400_with_a_target(url: str, stub: StubLoop, body: Any, target: str) -> None:
    assert_error(post(url, "/rank", body), 400, "BadRequest", target)
    assert stub.calls == []


def test_loop_validation_errors_keep_their_code_and_target(url: str, stub: StubLoop) -> None:
    stub.fail_with = InvalidRequest("Every action is excluded.", "InvalidRankRequest", "excludedActions")
    assert_error(post(url, "/rank", rank_body()), 400, "InvalidRankRequest", "excludedActions")


def test_oversized_bodies_are_413_before_the_loop_sees_them(url: str, stub: StubLoop) -> None:
    big = rank_body(contextFeatures=[{"pad": "x" * (70 * 1024)}])
    assert_error(post(url, "/rank", big), 413, "PayloadSizeExceeded")

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while streaming too
        yield b'{"value": 1, "pad": "'
        for _ in range(100):
            yield b"x" * 1024
        yield b'"}'

    streamed = requests.post(
        url + "/events/e1/reward",
        data=chunks(),
        headers={"Ocp-Apim-Subscription-Key": KEY, "Content-Type": "application/json"},
        timeout=5,
    )
    assert_error(streamed, 413, "PayloadSizeExceeded")
    assert stub.calls == []


def test_reward_and_activate_answer_204(url: str, stub: StubLoop) -> None:
    post(url, "/rank", rank_body())
    assert post(url, "/events/e1/reward", {"value": 1.0}).status_code == 204
    assert (
        post(url, "/events/e1/reward", {"value": "0.5"}).status_code == 204
    )  # the quickstart sends a string
    assert post(url, "/events/e1/activate").status_code == 204
    assert stub.calls[1:] == [("reward", ("e1", 1.0)), ("reward", ("e1", 0.5)), ("activate", "e1")]


def test_event_ids_with_slashes_and_spaces_round_trip(url: str, stub: StubLoop) -> None:
    post(url, "/rank", rank_body(eventId="a/b c"))
    assert post(url, "/events/a%2Fb%20c/reward", {"value": 1}).status_code == 204
    assert stub.calls[-1] == ("reward", ("a/b c", 1.0))


@pytest.mark.parametrize(
    "body", [{}, {"value": None}, {"value": "high"}, {"value": True}, [1], {"value": [1]}]
)
def test_bad_reward_bodies_are_400(url: str, stub: StubLoop, body: Any) -> None:
    stub.events.add("e1")
    assert_error(post(url, "/events/e1/reward", body), 400, "BadRequest", None)
    assert stub.calls == []


def test_an_event_never_ranked_is_204_as_on_azure(url: str, stub: StubLoop) -> None:
    response = post(url, "/events/nope/reward", {"value": 1})
    assert response.status_code == 204 and response.content == b""
    assert post(url, "/events/nope/activate").status_code == 204
    assert stub.calls == []


def test_too_long_event_id_in_the_path_is_400(url: str) -> None:
    assert_error(post(url, "/events/" + "x" * 257 + "/reward", {"value": 1}), 400, "BadRequest", "eventId")


def test_unknown_paths_and_methods_are_personalizer_shaped(url: str) -> None:
    headers = {"Ocp-Apim-Subscription-Key": KEY}
    assert_error(requests.get(url + "/nothing-here", headers=headers, timeout=5), 404, "ResourceNotFound")
    assert_error(requests.get(url + "/rank", headers=headers, timeout=5), 405, "MethodNotAllowed")


def test_unavailable_loop_is_503_and_a_bug_is_500(url: str, stub: StubLoop) -> None:
    stub.fail_with = RankerUnavailable("database is locked")
    response = post(url, "/rank", rank_body())
    assert_error(response, 503, "ServiceUnavailable")
    assert "locked" not in response.text  # internals stay in the log
    stub.fail_with = RuntimeError("bug")
    assert_error(post(url, "/rank", rank_body()), 500, "InternalServerError")


def test_service_configuration_round_trips_iso_durations(url: str, stub: StubLoop) -> None:
    headers = {"Ocp-Apim-Subscription-Key": KEY}
    current = requests.get(url + "/configurations/service", headers=headers, timeout=5).json()
    assert current == {  # ISO-8601 durations, as v1.0's schema (format: duration) says
        "rewardWaitTime": "PT10M",
        "defaultReward": 0.0,
        "rewardAggregation": "earliest",
        "explorationPercentage": 0.2,
        "modelExportFrequency": "PT30S",
        "logRetentionDays": 90,
        "learningMode": "Online",
        "isAutoOptimizationEnabled": False,
        "autoOptimizationFrequency": "P7D",
        "modelRetrainDays": 0,
        "isInferenceExplainabilityEnabled": False,
    }
    # A TimeSpan, as older v1.0 examples wrote durations, is read and answered in ISO-8601.
    wanted = dict(current, rewardWaitTime="00:01:00", modelExportFrequency="PT5S", rewardAggregation="Sum")
    response = requests.put(url + "/configurations/service", json=wanted, headers=headers, timeout=5)
    assert response.status_code == 200
    assert response.json()["rewardWaitTime"] == "PT1M"
    assert response.json()["rewardAggregation"] == "sum"
    assert stub.settings.reward_wait_time == 60.0
    assert stub.settings.model_export_frequency == 5.0


@pytest.mark.parametrize(
    ("change", "target"),
    [
        ({"rewardWaitTime": "PT1S"}, "rewardWaitTime"),
        ({"rewardWaitTime": "soon"}, "rewardWaitTime"),
        ({"rewardWaitTime": 600}, "rewardWaitTime"),
        ({"defaultReward": 2}, "defaultReward"),
        ({"defaultReward": "0"}, "defaultReward"),
        ({"explorationPercentage": -0.1}, "explorationPercentage"),
        ({"rewardAggregation": "median"}, "rewardAggregation"),
        ({"modelExportFrequency": "P2D"}, "modelExportFrequency"),
        ({"logRetentionDays": 0}, "logRetentionDays"),
        ({"logRetentionDays": 1.5}, "logRetentionDays"),
        ({"learningMode": "Sometimes"}, "learningMode"),
        ({"rewardWaitTime": None}, "rewardWaitTime"),
    ],
)
def test_invalid_service_configuration_is_400_naming_the_field(
    url: str, stub: StubLoop, change: dict[str, Any], target: str
) -> None:
    headers = {"Ocp-Apim-Subscription-Key": KEY}
    current = requests.get(url + "/configurations/service", headers=headers, timeout=5).json()
    response = requests.put(
        url + "/configurations/service", json=dict(current, **change), headers=headers, timeout=5
    )
    assert_error(response, 400, "BadRequest", target)
    assert stub.settings == LoopSettings()


def test_policy_get_put_delete(url: str, stub: StubLoop) -> None:
    headers = {"Ocp-Apim-Subscription-Key": KEY}
    assert requests.get(url + "/configurations/policy", headers=headers, timeout=5).json() == {
        "name": "default",
        "arguments": DEFAULT_POLICY,
    }
    custom = {"name": "mine", "arguments": "--cb_explore_adf --epsilon 0.1"}
    response = requests.put(url + "/configurations/policy", json=custom, headers=headers, timeout=5)
    assert response.json() == {"name": "mine", "arguments": "--cb_explore_adf --epsilon 0.1"}
    bad = requests.put(
        url + "/configurations/policy", json={"name": "x", "arguments": "--cb"}, headers=headers
    )
    assert_error(bad, 400, "BadRequest", "arguments")
    reset = requests.delete(url + "/configurations/policy", headers=headers, timeout=5)
    assert reset.json()["arguments"] == DEFAULT_POLICY


def test_model_export_import_reset_and_properties(url: str, stub: StubLoop) -> None:
    headers = {"Ocp-Apim-Subscription-Key": KEY}
    exported = requests.get(url + "/model", headers=headers, timeout=5)
    assert exported.headers["content-type"] == "application/octet-stream"
    assert exported.content == b"MODEL"
    octet = dict(headers, **{"Content-Type": "application/octet-stream"})
    assert requests.put(url + "/model", data=b"MODEL-2", headers=octet, timeout=5).status_code == 204
    assert_error(requests.put(url + "/model", data=b"junk", headers=octet, timeout=5), 400, "BadRequest")
    assert_error(requests.put(url + "/model", data=b"", headers=octet, timeout=5), 400, "BadRequest")
    assert requests.delete(url + "/model", headers=headers, timeout=5).status_code == 204
    properties = requests.get(url + "/model/properties", headers=headers, timeout=5).json()
    assert properties == {"creationTime": "2026-01-02T03:04:05Z", "lastModifiedTime": "2026-01-02T03:04:05Z"}
    assert ("import", b"MODEL-2") in stub.calls and ("reset_model", None) in stub.calls


def test_logs_properties_and_delete(url: str, stub: StubLoop) -> None:
    headers = {"Ocp-Apim-Subscription-Key": KEY}
    assert requests.get(url + "/logs/properties", headers=headers, timeout=5).json() == {}
    assert requests.delete(url + "/logs", headers=headers, timeout=5).status_code == 204
    assert ("delete_logs", None) in stub.calls


def test_build_app_refuses_an_empty_key(stub: StubLoop) -> None:
    with pytest.raises(ValueError, match="PERSONALIZER_KEY"):
        build_app(stub, "")


def test_a_client_that_hangs_up_mid_body_does_not_break_the_server(url: str, stub: StubLoop) -> None:
    host, port = url.split("//")[1].split("/")[0].split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(
            b"POST "
            + BASE.encode()
            + b"/rank HTTP/1.1\r\nHost: x\r\nOcp-Apim-Subscription-Key: "
            + KEY.encode()
            + b'\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"actions"'
        )
    assert post(url, "/rank", rank_body()).status_code == 201

"""Property-based fuzzing of the REST API with hostile values: never a 5xx, and /healthz stays truthful."""

from __future__ import annotations

import json
import urllib.parse
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hostile_service import Service, bystander_pairs, rank_body, stored_rewards
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# Text as JSON can carry it: any code point, lone surrogates and NUL included.
hostile_text = st.text(
    alphabet=st.characters(codec=None, min_codepoint=0, max_codepoint=0x10FFFF), max_size=12
) | st.sampled_from(["\ud800", "a\udfffb", "\x00", "x\x00", "\ufffe", "%00", "../", " ", "\u202e"])
hostile_number = st.one_of(
    st.integers(min_value=-(10**500), max_value=10**500),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([10**400, -(10**400), 2**63, 2**64 + 1, 1e308, -1e308, 5e-324]),
)
leaf = st.one_of(st.none(), st.booleans(), hostile_number, hostile_text)
value = st.recursive(
    leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(hostile_text, inner, max_size=4),
    max_leaves=12,
)
# Mostly well-shaped requests with hostile leaves (so they get past the type checks), sometimes anything.
names = hostile_text | st.sampled_from(["taste", "time", "n"])
leaves = (
    hostile_text
    | hostile_number
    | st.lists(hostile_number, max_size=3)
    | st.dictionaries(names, leaf, max_size=3)
)
features = st.lists(st.dictionaries(names, leaves, min_size=1, max_size=5), min_size=1, max_size=3)
action = st.fixed_dictionaries({"id": hostile_text, "features": features})
rank = st.fixed_dictionaries(
    {"actions": st.lists(action, min_size=1, max_size=5), "contextFeatures": features},
    optional={"excludedActions": st.lists(hostile_text, max_size=2), "eventId": hostile_text},
)
anything = st.fixed_dictionaries(
    {"actions": st.lists(st.fixed_dictionaries({"id": value, "features": value}), max_size=3) | value},
    optional={"contextFeatures": value, "excludedActions": value, "eventId": value, "deferActivation": value},
)
service_configuration = st.fixed_dictionaries(
    {
        "rewardWaitTime": st.sampled_from(["PT10M", "P999999999999D", "PT1e400S", "10^400", "P-1D"])
        | hostile_text
        | value,
        "defaultReward": hostile_number | value,
        "rewardAggregation": st.sampled_from(["earliest", "sum"]) | hostile_text,
        "explorationPercentage": hostile_number | value,
        "modelExportFrequency": st.sampled_from(["PT1S", "P999999999999D", "PT99999999999999999999S"])
        | hostile_text,
        "logRetentionDays": hostile_number | value,
    }
)
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck), database=None)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """One service for all the fuzzing; it must end healthy, with no traceback logged."""
    running = Service(f"sqlite:///{tmp_path_factory.mktemp('fuzz')}/fuzz.db")
    running.wait_healthy()
    yield running
    served = bystander_pairs(running, count=20)
    assert stored_rewards(running.database_url, served) == {e: 1 for e in served}
    assert running.health().status_code == 200
    log = running.stop()
    assert "Traceback" not in log and "InternalServerError" not in log, log


def _json(body: Any) -> bytes:
    return json.dumps(body).encode()  # ASCII, with \\ud800 escapes for lone surrogates


def _no_5xx(service: Service, answer: Any) -> None:
    assert answer.status_code < 500, answer.text
    assert service.health().status_code == 200, service.health().text


@FUZZ
@given(body=rank)
def test_rank_never_5xx(service: Service, body: dict[str, Any]) -> None:
    _no_5xx(service, service.post("/rank", raw=_json(body)))


@FUZZ
@given(body=anything)
def test_rank_of_any_shape_never_5xx(service: Service, body: dict[str, Any]) -> None:
    _no_5xx(service, service.post("/rank", raw=_json(body)))


@FUZZ
@given(event_id=hostile_text, reward=value)
def test_reward_and_activate_never_5xx(service: Service, event_id: str, reward: Any) -> None:
    ranked = uuid.uuid4().hex
    assert service.post("/rank", rank_body(ranked)).status_code == 201
    path_id = urllib.parse.quote(event_id.encode("utf-8", "surrogatepass"), safe="") or "x"
    _no_5xx(service, service.post(f"/events/{path_id}/reward", raw=_json({"value": reward})))
    _no_5xx(service, service.post(f"/events/{path_id}/activate", raw=b"{}"))
    _no_5xx(service, service.post(f"/events/{ranked}/reward", raw=_json({"value": reward})))


@FUZZ
@given(body=service_configuration)
def test_service_configuration_never_5xx(service: Service, body: dict[str, Any]) -> None:
    answer = service.call("PUT", "/configurations/service", raw=_json(body))
    _no_5xx(service, answer)
    restore = {
        "rewardWaitTime": "PT10M",
        "defaultReward": 0,
        "rewardAggregation": "earliest",
        "explorationPercentage": 0.2,
        "modelExportFrequency": "PT1S",
        "logRetentionDays": 90,
    }
    assert service.call("PUT", "/configurations/service", raw=_json(restore)).status_code == 200


@FUZZ
@given(arguments=hostile_text | value, name=value)
def test_policy_never_5xx(service: Service, arguments: Any, name: Any) -> None:
    _no_5xx(
        service,
        service.call("PUT", "/configurations/policy", raw=_json({"name": name, "arguments": arguments})),
    )
    assert service.call("DELETE", "/configurations/policy").status_code == 200


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(data=st.binary(max_size=2048), cut=st.integers(min_value=0, max_value=4096))
def test_model_import_never_5xx(service: Service, data: bytes, cut: int) -> None:
    exported = service.call("GET", "/model").content
    _no_5xx(service, service.call("PUT", "/model", raw=data or b"x"))
    _no_5xx(service, service.call("PUT", "/model", raw=exported[:cut] + data))

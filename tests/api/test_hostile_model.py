"""PUT /model: a model is verified before it replaces the served one; a bad one is a 400 and nothing changes."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile_service import Service, bystander_pairs, rank_body


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A service that has learned something, so its model is not a fresh one."""
    running = Service(f"sqlite:///{tmp_path_factory.mktemp('model')}/model.db")
    running.wait_healthy()
    for _ in range(30):
        event_id = uuid.uuid4().hex
        assert running.post("/rank", rank_body(event_id)).status_code == 201
        assert running.post(f"/events/{event_id}/reward", {"value": 1}).status_code == 204
    deadline = time.monotonic() + 20
    first = running.call("GET", "/model/properties").json()["lastModifiedTime"]
    while running.call("GET", "/model/properties").json()["lastModifiedTime"] == first:
        assert time.monotonic() < deadline, "no model was trained"
        time.sleep(0.2)
    yield running
    log = running.stop()
    assert "Traceback" not in log, log


def _cut(data: bytes, how: str) -> bytes:
    return {
        "first-200-bytes": data[:200],
        "first-half": data[: len(data) // 2],
        "all-but-last-byte": data[:-1],
        "one-byte-flipped": data[:100] + bytes([data[100] ^ 0xFF]) + data[101:],
        "garbage": b"not a model at all" * 10,
        "doubled": data + data,
    }[how]


@pytest.mark.parametrize(
    "how",
    ["first-200-bytes", "first-half", "all-but-last-byte", "one-byte-flipped", "garbage", "doubled"],
)
def test_a_damaged_model_is_a_400_and_the_served_model_stays(service: Service, how: str) -> None:
    before = service.call("GET", "/model")
    assert before.status_code == 200 and len(before.content) > 200
    answer = service.call("PUT", "/model", raw=_cut(before.content, how))
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "BadRequest"
    after = service.call("GET", "/model")
    assert after.content == before.content
    bystander_pairs(service, count=3)


def test_the_whole_export_is_accepted(service: Service) -> None:
    exported = service.call("GET", "/model").content
    assert service.call("PUT", "/model", raw=exported).status_code == 204
    assert service.call("GET", "/model").content == exported


def test_a_model_of_another_policy_is_refused(service: Service, tmp_path: Path) -> None:
    other = Service(f"sqlite:///{tmp_path}/other.db", PERSONALIZER_POLICY="--cb_explore_adf -q CA --squarecb")
    try:
        other.wait_healthy()
        foreign = other.call("GET", "/model").content
    finally:
        other.stop()
    before = service.call("GET", "/model").content
    answer = service.call("PUT", "/model", raw=foreign)
    assert answer.status_code == 400, answer.text
    assert "policy" in answer.json()["error"]["message"]
    assert service.call("GET", "/model").content == before

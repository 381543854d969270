"""AzureRanker against a fake Personalizer on loopback: the key header, the request shape, and failures."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from bot.personalizer.azure import AzureRanker
from bot.personalizer.base import (
    EventNotFound,
    InvalidRequest,
    RankableAction,
    RankerUnavailable,
    RankRequest,
)

KEY = "test-key-0123456789abcdef"
BASE = "/personalizer/v1.0"


class FakePersonalizer(ThreadingHTTPServer):
    """Records every request; answers like Personalizer v1.0 unless told to misbehave."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests: list[dict[str, Any]] = []
        self.mode = "ok"  # ok | slow | error500 | bad400
        self.known_events: set[str] = set()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: FakePersonalizer

    def log_message(self, *args: Any) -> None:  # keep pytest output clean
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        record = {
            "path": self.path,
            "key": self.headers.get("Ocp-Apim-Subscription-Key"),
            "content_type": self.headers.get("Content-Type"),
            "body": json.loads(raw) if raw else None,
        }
        self.server.requests.append(record)
        if self.server.mode == "slow":
            time.sleep(3)
        if record["key"] != KEY:
            return self._send(401, {"error": {"code": "401", "message": "Access denied"}})
        if self.server.mode == "error500":
            return self._send(500, {"error": {"code": "InternalServerError", "message": "boom"}})
        if self.server.mode == "bad400":
            return self._send(400, {"error": {"code": "BadRequest", "message": "no", "target": "actions"}})
        if self.path == f"{BASE}/rank":
            body = record["body"]
            event_id = body.get("eventId") or "generated-id"
            self.server.known_events.add(event_id)
            ids = [a["id"] for a in body["actions"]]
            allowed = [i for i in ids if i not in body.get("excludedActions", [])]
            ranking = [{"id": i, "probability": (1 / len(allowed) if i in allowed else 0.0)} for i in ids]
            return self._send(201, {"ranking": ranking, "eventId": event_id, "rewardActionId": allowed[0]})
        for suffix in ("/reward", "/activate"):
            if self.path.startswith(f"{BASE}/events/") and self.path.endswith(suffix):
                event_id = self.path[len(f"{BASE}/events/") : -len(suffix)]
                if event_id not in self.server.known_events:
                    return self._send(404, {"error": {"code": "ResourceNotFound", "message": "no event"}})
                return self._send(204, None)
        self._send(404, {"error": {"code": "ResourceNotFound", "message": "no route"}})

    def _send(self, status: int, body: dict[str, Any] | None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        try:
            self.send_response(status)
            if body is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client timed out first
            pass


@pytest.fixture
def fake() -> Iterator[FakePersonalizer]:
    server = FakePersonalizer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def seed_request(event_id: str | None = "evt-1") -> RankRequest:
    return RankRequest(
        context_features=[{"taste_preference": "salty"}, {"time_of_day": "evening"}],
        actions=[
            RankableAction("pasta", [{"taste": "salty", "spice_level": "medium"}, {"nutrition_level": 5}]),
            RankableAction("juice", [{"taste": "sweet"}, {"drink": True}]),
            RankableAction("salad", [{"taste": "salty", "spice_level": "none"}]),
        ],
        excluded_actions=["juice"],
        event_id=event_id,
    )


def test_rank_sends_personalizer_json_with_the_key_and_maps_the_answer(fake: FakePersonalizer) -> None:
    ranker = AzureRanker(fake.endpoint, KEY)
    result = ranker.rank(seed_request())
    sent = fake.requests[-1]
    assert sent["path"] == f"{BASE}/rank"
    assert sent["key"] == KEY
    assert sent["content_type"].startswith("application/json")
    assert sent["body"] == {
        "contextFeatures": [{"taste_preference": "salty"}, {"time_of_day": "evening"}],
        "actions": [
            {
                "id": "pasta",
                "features": [{"taste": "salty", "spice_level": "medium"}, {"nutrition_level": 5}],
            },
            {"id": "juice", "features": [{"taste": "sweet"}, {"drink": True}]},
            {"id": "salad", "features": [{"taste": "salty", "spice_level": "none"}]},
        ],
        "excludedActions": ["juice"],
        "eventId": "evt-1",
        "deferActivation": False,
    }
    assert result.event_id == "evt-1"
    assert result.reward_action_id == "pasta"
    assert [(r.id, r.probability) for r in result.ranking] == [("pasta", 0.5), ("juice", 0.0), ("salad", 0.5)]


def test_reward_and_activate_post_to_the_event_and_accept_204(fake: FakePersonalizer) -> None:
    ranker = AzureRanker(fake.endpoint + "/", KEY)
    ranker.rank(seed_request("evt-2"))
    ranker.reward("evt-2", 1.0)
    ranker.activate("evt-2")
    reward, activate = fake.requests[-2:]
    assert reward["path"] == f"{BASE}/events/evt-2/reward"
    assert reward["body"] == {"value": 1.0}
    assert reward["key"] == KEY
    assert activate["path"] == f"{BASE}/events/evt-2/activate"
    assert activate["body"] is None


def test_unknown_event_is_event_not_found(fake: FakePersonalizer) -> None:
    ranker = AzureRanker(fake.endpoint, KEY)
    with pytest.raises(EventNotFound):
        ranker.reward("never-ranked", 1.0)
    with pytest.raises(EventNotFound):
        ranker.activate("never-ranked")


def test_400_is_invalid_request_with_the_servers_code_and_target(fake: FakePersonalizer) -> None:
    fake.mode = "bad400"
    with pytest.raises(InvalidRequest) as caught:
        AzureRanker(fake.endpoint, KEY).rank(seed_request())
    assert (caught.value.code, caught.value.target) == ("BadRequest", "actions")


def test_too_long_event_id_is_rejected_before_sending(fake: FakePersonalizer) -> None:
    with pytest.raises(InvalidRequest):
        AzureRanker(fake.endpoint, KEY).reward("x" * 257, 1.0)
    assert fake.requests == []


def test_500_is_unavailable_after_one_attempt(fake: FakePersonalizer) -> None:
    fake.mode = "error500"
    with pytest.raises(RankerUnavailable):
        AzureRanker(fake.endpoint, KEY).rank(seed_request())
    assert len(fake.requests) == 1  # no retry: a retried rank would log the event twice


def test_wrong_key_is_unavailable_and_the_key_is_never_logged(
    fake: FakePersonalizer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(RankerUnavailable) as caught:
        AzureRanker(fake.endpoint, "wrong-key-secret").rank(seed_request())
    assert "401" in str(caught.value)
    assert "wrong-key-secret" not in caplog.text
    assert "wrong-key-secret" not in str(caught.value)
    assert "wrong-key-secret" not in repr(AzureRanker(fake.endpoint, "wrong-key-secret"))


def test_refused_connection_fails_fast(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(RankerUnavailable):
        AzureRanker(f"http://127.0.0.1:{port}", KEY).rank(seed_request())
    assert time.monotonic() - started < 1.0
    assert KEY not in caplog.text


def test_slow_server_times_out_within_the_budget(fake: FakePersonalizer) -> None:
    fake.mode = "slow"
    started = time.monotonic()
    with pytest.raises(RankerUnavailable, match="timed out"):
        AzureRanker(fake.endpoint, KEY, timeout=0.5).rank(seed_request())
    elapsed = time.monotonic() - started
    assert elapsed < 1.5, elapsed
    assert len(fake.requests) == 1

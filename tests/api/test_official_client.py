"""Microsoft's official Personalizer client against `python app.py personalizer`, run as production runs it.

The Personalizer quickstart's exact calls must work by changing only the endpoint and key, and a run of rank and
reward through the client must teach the service a preference.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from azure.cognitiveservices.personalizer import PersonalizerClient
from azure.cognitiveservices.personalizer.models import RankableAction, RankRequest
from msrest.authentication import CognitiveServicesCredentials
from msrest.exceptions import HttpOperationError

from bot.db import create_database_engine
from bot.personalizer.local import store

ROOT = Path(__file__).resolve().parents[2]
KEY = "official-client-key-" + uuid.uuid4().hex


@dataclass
class Service:
    endpoint: str
    database_url: str
    process: subprocess.Popen[bytes]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_service(database_url: str, port: int, **extra_env: str) -> subprocess.Popen[bytes]:
    """`python app.py personalizer` on loopback; returns once /healthz answers."""
    env = dict(os.environ, PERSONALIZER_KEY=KEY, PORT=str(port), HOST="127.0.0.1", DATABASE_URL=database_url)
    env.update(extra_env)
    process = subprocess.Popen(
        [sys.executable, "app.py", "personalizer"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read().decode() if process.stdout else ""
            raise RuntimeError(f"the service exited with {process.returncode}:\n{output}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except requests.ConnectionError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the service did not start within 30 s")


def stop_service(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    database_url = f"sqlite:///{tmp_path_factory.mktemp('official')}/service.db"
    port = free_port()
    # Model updates every second so the learning test needs no waiting beyond that.
    process = start_service(database_url, port, PERSONALIZER_MODEL_UPDATE_FREQUENCY="PT1S")
    yield Service(f"http://127.0.0.1:{port}", database_url, process)
    stop_service(process)


# --- the Personalizer quickstart, verbatim where it talks to Personalizer ------------------------------------------


# fmt: off
def get_actions() -> list[RankableAction]:
    action1 = RankableAction(id='pasta', features=[{"taste":"salty", "spice_level":"medium"},{"nutrition_level":5,"cuisine":"italian"}])  # noqa: E501
    action2 = RankableAction(id='ice cream', features=[{"taste":"sweet", "spice_level":"none"}, { "nutritional_level": 2 }])  # noqa: E501
    action3 = RankableAction(id='juice', features=[{"taste":"sweet", 'spice_level':'none'}, {'nutritional_level': 5}, {'drink':True}])  # noqa: E501
    action4 = RankableAction(id='salad', features=[{'taste':'salty', 'spice_level':'none'},{'nutritional_level': 2}])  # noqa: E501
    return [action1, action2, action3, action4]
# fmt: on


def test_the_personalizer_quickstart_calls_succeed(service: Service) -> None:
    client = PersonalizerClient(service.endpoint, CognitiveServicesCredentials(KEY))
    eventid = str(uuid.uuid4())
    context = [{"taste_preference": "salty"}, {"time_of_day": "morning"}]  # what its two prompts build
    actions = get_actions()

    rank_request = RankRequest(
        actions=actions, context_features=context, excluded_actions=["juice"], event_id=eventid
    )
    response = client.rank(rank_request=rank_request)

    ranked = {ranked.id: ranked.probability for ranked in response.ranking}
    assert set(ranked) == {"pasta", "ice cream", "juice", "salad"}
    assert ranked["juice"] == 0.0
    assert sum(ranked.values()) == pytest.approx(1.0)
    assert response.event_id == eventid
    assert response.reward_action_id in {"pasta", "ice cream", "salad"}

    reward_val = "1.0"
    client.events.reward(event_id=eventid, value=reward_val)

    engine = create_database_engine(service.database_url)
    try:
        event = store.get_event(engine, eventid)
        assert event is not None and event["chosen_id"] == response.reward_action_id
        assert [value for value, _ in store.event_rewards(engine, eventid)] == [1.0]
    finally:
        engine.dispose()


def test_activate_through_the_client(service: Service) -> None:
    client = PersonalizerClient(service.endpoint, CognitiveServicesCredentials(KEY))
    eventid = str(uuid.uuid4())
    request = RankRequest(
        actions=get_actions(),
        context_features=[{"time_of_day": "night"}],
        event_id=eventid,
        defer_activation=True,
    )
    client.rank(rank_request=request)
    client.events.activate(event_id=eventid)


def test_wrong_key_is_401_through_the_client(service: Service) -> None:
    client = PersonalizerClient(service.endpoint, CognitiveServicesCredentials("not-the-key"))
    with pytest.raises(HttpOperationError) as caught:
        client.rank(rank_request=RankRequest(actions=get_actions(), context_features=[{"a": "b"}]))
    assert caught.value.response.status_code == 401


def test_unknown_event_is_404_through_the_client(service: Service) -> None:
    client = PersonalizerClient(service.endpoint, CognitiveServicesCredentials(KEY))
    with pytest.raises(HttpOperationError) as caught:
        client.events.reward(event_id=str(uuid.uuid4()), value=1.0)
    assert caught.value.response.status_code == 404
    assert caught.value.response.json()["error"]["code"] == "ResourceNotFound"


def test_invalid_rank_is_400_with_personalizers_error_model(service: Service) -> None:
    client = PersonalizerClient(service.endpoint, CognitiveServicesCredentials(KEY))
    request = RankRequest(actions=get_actions(), context_features=[], excluded_actions=["juice"])
    with pytest.raises(HttpOperationError) as caught:
        client.rank(rank_request=request)
    assert caught.value.response.status_code == 400
    error = caught.value.error.error  # msrest deserialized Personalizer's ErrorResponse
    assert error.code == "BadRequest"
    assert error.target == "contextFeatures"


def test_malformed_and_oversized_bodies(service: Service) -> None:
    headers = {"Ocp-Apim-Subscription-Key": KEY, "Content-Type": "application/json"}
    url = service.endpoint + "/personalizer/v1.0/rank"
    malformed = requests.post(url, data=b'{"actions": [', headers=headers, timeout=10)
    assert malformed.status_code == 400 and malformed.json()["error"]["code"] == "BadRequest"
    huge = b'{"actions": [], "pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    oversized = requests.post(url, data=huge, headers=headers, timeout=10)
    assert oversized.status_code == 413 and oversized.json()["error"]["code"] == "PayloadSizeExceeded"


def test_a_run_of_rank_and_reward_through_the_client_learns_a_preference(service: Service) -> None:
    """Sweet evenings: ice cream is liked and nothing else; its probability must rise well above uniform."""
    client = PersonalizerClient(service.endpoint, CognitiveServicesCredentials(KEY))
    context = [{"taste_preference": "sweet"}, {"time_of_day": "evening"}]

    def ice_cream_probability() -> float:
        request = RankRequest(actions=get_actions(), context_features=context, excluded_actions=["juice"])
        return {r.id: r.probability for r in client.rank(rank_request=request).ranking}["ice cream"]

    before = ice_cream_probability()
    after = before
    for _ in range(8):
        published = model_modified(service)
        for _ in range(40):
            eventid = str(uuid.uuid4())
            request = RankRequest(
                actions=get_actions(), context_features=context, excluded_actions=["juice"], event_id=eventid
            )
            chosen = client.rank(rank_request=request).reward_action_id
            client.events.reward(event_id=eventid, value=1.0 if chosen == "ice cream" else 0.0)
        wait_for_model_after(service, published)
        after = ice_cream_probability()
        if after > 0.7:
            break
    assert before < 0.5
    assert after > 0.7, (before, after)
    print(f"ice cream: {before:.3f} -> {after:.3f}")


def model_modified(service: Service) -> str:
    headers = {"Ocp-Apim-Subscription-Key": KEY}
    url = service.endpoint + "/personalizer/v1.0/model/properties"
    return str(requests.get(url, headers=headers, timeout=10).json()["lastModifiedTime"])


def wait_for_model_after(service: Service, previous: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while model_modified(service) == previous:
        assert time.monotonic() < deadline, "no model was published"
        time.sleep(0.2)

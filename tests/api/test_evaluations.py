"""Evaluations and feature importances through `python app.py personalizer`: Microsoft's client and REST."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from bench.evaluation_world import log_events
from bot.db import create_database_engine
from bot.personalizer.local import store

azure_personalizer = pytest.importorskip("azure.ai.personalizer")
from azure.core.credentials import AzureKeyCredential  # noqa: E402
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
KEY = "evaluation-test-key"
HEADERS = {"Ocp-Apim-Subscription-Key": KEY}
# Two days ago at midnight: inside log retention (90 days), which would delete an older log at start-up.
START = datetime.fromtimestamp((time.time() // 86400 - 2) * 86400, tz=UTC)
DAY1, DAY2, DAY3 = (datetime.fromtimestamp(START.timestamp() + d * 86400, tz=UTC) for d in range(3))
V2022 = "api-version=2022-09-01-preview"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The service on a loopback port, over a log of 2000 events of the seeded world (from START, 1 a minute)."""
    folder = tmp_path_factory.mktemp("evaluations")
    url = f"sqlite:///{folder / 'log.db'}"
    engine = create_database_engine(url)
    store.create_tables(engine)
    log_events(engine, 2000, seed=31, start=START.timestamp(), step=60.0)
    engine.dispose()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONALIZER_")}
    env.update({"PERSONALIZER_KEY": KEY, "PORT": str(port), "HOST": "127.0.0.1", "DATABASE_URL": url})
    process = subprocess.Popen(
        [sys.executable, "app.py", "personalizer"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
        try:
            if requests.get(f"{base}/healthz", timeout=1).ok:
                break
        except requests.RequestException:
            assert time.monotonic() < deadline, "the service did not start"
            time.sleep(0.1)
    try:
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


@pytest.fixture
def client(service: str) -> Any:
    return azure_personalizer.PersonalizerAdministrationClient(service, AzureKeyCredential(KEY))


def wait_for(fetch: Any, timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        answer = fetch()
        if answer["status"] not in ("Running", "pending"):
            return answer
        assert time.monotonic() < deadline, f"still {answer['status']}"
        time.sleep(0.5)


def test_microsofts_client_runs_an_evaluation_and_applies_its_optimal_policy(
    client: Any, service: str
) -> None:
    contract = {
        "name": "python_sdk_test_evaluation",
        "startTime": DAY1.date().isoformat(),
        "endTime": DAY3.date().isoformat(),
        "enableOfflineExperimentation": True,
        "policies": [{"name": "context x action", "arguments": "--cb_explore_adf -q CA --cb_type mtr"}],
    }
    client.create_evaluation("sdk-eval", contract)
    window = {"start_time": DAY1, "end_time": DAY3}
    first = client.get_evaluation("sdk-eval", **window)
    assert first["status"] in ("Running", "Succeeded") and first["evaluationType"] == "Manual"
    evaluation = wait_for(lambda: client.get_evaluation("sdk-eval", **window))
    assert evaluation["status"] == "Succeeded"
    assert (
        evaluation["startTime"] == f"{DAY1.date()}T00:00:00Z"
        and evaluation["endTime"] == f"{DAY3.date()}T00:00:00Z"
    )
    content = evaluation["content"]
    assert content["intervalInMinutes"] == 5
    by_name = {p["name"]: p for p in content["value"]}
    assert {"online", "baseline1", "baselineRand", "context x action"} <= set(by_name)
    assert (
        by_name["online"]["policySource"] == "Online" and by_name["baseline1"]["policySource"] == "Baseline"
    )
    assert any(p["policySource"] == "OfflineExperimentation" for p in content["value"])
    for policy in content["value"]:
        low, high = policy["summary"]["confidenceInterval"]
        assert low <= policy["summary"]["expectedReward"] <= high
        data = policy["timeseries"]["data"]
        assert data and data[-1]["expectedReward"] == pytest.approx(policy["summary"]["expectedReward"])
    optimal = evaluation["optimalPolicy"]
    assert optimal != "online"  # the log explored uniformly; learning beats it with room to spare
    hourly = client.get_evaluation("sdk-eval", interval_in_minutes=60, window="Rolling", **window)
    assert len(hourly["content"]["value"][0]["timeseries"]["data"]) < len(
        by_name["online"]["timeseries"]["data"]
    )
    client.apply_from_evaluation({"evaluationId": "sdk-eval", "policyName": optimal})
    policy = requests.get(f"{service}/personalizer/v1.0/configurations/policy", headers=HEADERS, timeout=10)
    assert policy.json()["arguments"] == by_name[optimal]["arguments"]
    assert "sdk-eval" in [e["id"] for e in client.list_evaluations()]
    client.delete_evaluation("sdk-eval")
    with pytest.raises(ResourceNotFoundError):
        client.get_evaluation("sdk-eval", **window)


def test_microsofts_client_computes_feature_importances(client: Any) -> None:
    client.create_feature_importance(
        "sdk-fi",
        {"name": "python_sdk_test_feature_imp", "startTime": str(DAY1.date()), "endTime": str(DAY3.date())},
    )
    result = wait_for(lambda: client.get_feature_importance("sdk-fi"))
    assert result["status"] == "Succeeded"
    scores = {(s["namespace"], s["featureName"]): s["score"] for s in result["featureScores"]}
    assert scores[("context", "user")] == 1.0  # the person decides the dish in this world
    assert scores[("context", "user")] > scores[("action", "noise")]
    assert all(0.0 <= s <= 1.0 for s in scores.values())
    assert not any(name.startswith("_") for _, name in scores)
    assert "sdk-fi" in [f["id"] for f in client.list_feature_importances()]
    client.delete_feature_importance("sdk-fi")
    with pytest.raises(ResourceNotFoundError):
        client.get_feature_importance("sdk-fi")


def test_v1_evaluations_answer_201_and_the_estimators_sums(service: str) -> None:
    base = f"{service}/personalizer/v1.0"
    body = {
        "name": "v1",
        "startTime": f"{DAY1.date()}T00:00:00Z",
        "endTime": f"{DAY2.date()}T00:00:00Z",
        "policies": [],
    }
    created = requests.post(f"{base}/evaluations", json=body, headers=HEADERS, timeout=10)
    assert created.status_code == 201, created.text
    evaluation = created.json()
    assert evaluation["status"] == "pending" and created.headers["location"].endswith(evaluation["id"])
    url = f"{base}/evaluations/{evaluation['id']}"
    done = wait_for(lambda: requests.get(url, headers=HEADERS, timeout=10).json())
    assert done["status"] == "completed"
    online = next(p for p in done["policyResults"] if p["name"] == "online")
    total = online["totalSummary"]
    assert total["ipsEstimatorDenominator"] == 1440  # one event a minute for the day
    assert total["snipsEstimatorDenominator"] == pytest.approx(1440)  # the online policy's weights are 1
    assert sum(s["ipsEstimatorDenominator"] for s in online["summary"]) == 1440
    assert (
        requests.get(f"{base}/evaluations", headers=HEADERS, timeout=10).json()[0]["id"] == evaluation["id"]
    )
    assert requests.delete(url, headers=HEADERS, timeout=10).status_code == 204
    missing = requests.get(url, headers=HEADERS, timeout=10)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "ResourceNotFound"


def test_bad_evaluations_get_a_clear_400_and_taken_ids_a_409(service: str, client: Any) -> None:
    base = f"{service}/personalizer"
    cases = [
        ({"startTime": str(DAY1.date()), "endTime": str(DAY2.date())}, "name"),
        ({"name": "x", "startTime": "yesterday", "endTime": str(DAY2.date())}, "startTime"),
        ({"name": "x", "startTime": str(DAY2.date()), "endTime": str(DAY1.date())}, "endTime"),
        ({"name": "x", "startTime": str(DAY1.date()), "endTime": str(DAY2.date()), "policies": [{"name": "p", "arguments": "--cb_explore_adf --data /etc/passwd"}]}, "--data"),
    ]  # fmt: skip
    for body, mentioned in cases:
        answer = requests.put(f"{base}/evaluations/bad?{V2022}", json=body, headers=HEADERS, timeout=10)
        assert answer.status_code == 400, (body, answer.text)
        assert mentioned in answer.json()["error"]["message"]
    unauthorized = requests.get(f"{base}/evaluations?{V2022}", timeout=10)
    assert unauthorized.status_code == 401
    body = {"name": "twice", "startTime": str(DAY1.date()), "endTime": str(DAY2.date()), "policies": []}
    client.create_evaluation("twice", body)
    with pytest.raises(HttpResponseError) as taken:
        client.create_evaluation("twice", body)
    assert taken.value.status_code == 409
    applied = requests.post(
        f"{base}/configurations/applyFromEvaluation?{V2022}",
        json={"evaluationId": "nobody", "policyName": "online"},
        headers=HEADERS,
        timeout=10,
    )
    assert applied.status_code == 404

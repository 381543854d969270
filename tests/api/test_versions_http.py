"""Every API version over HTTP: where each is found, what it refuses, the codes it refuses with."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from bot.api.asgi import build_app
from bot.api.server import serving_in_thread
from bot.api.versions import VERSIONS
from bot.personalizer.local.loop import LearningLoop, open_learning_loop
from bot.personalizer.local.settings import LoopSettings

KEY = "versions-key"
HEADERS = {"Ocp-Apim-Subscription-Key": KEY}
RANK = {"contextFeatures": [{"taste": "sweet"}], "actions": [{"id": "a", "features": [{"x": 1}]}]}
MULTISLOT = dict(RANK, slots=[{"id": "main", "baselineAction": "a"}])


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    database = tmp_path_factory.mktemp("versions") / "loop.db"
    loop: LearningLoop = open_learning_loop(f"sqlite:///{database}", LoopSettings(), run_trainer=False)
    try:
        with serving_in_thread(build_app(loop, KEY)) as url:
            yield url
    finally:
        loop.close()


def url_for(base: str, version: str, path: str) -> str:
    if VERSIONS[version].in_path:
        return f"{base}/personalizer/{version}{path}"
    return f"{base}/personalizer{path}?api-version={version}"


@pytest.mark.parametrize("version", list(VERSIONS))
def test_every_version_ranks_and_rewards(base: str, version: str) -> None:
    ranked = requests.post(url_for(base, version, "/rank"), json=RANK, headers=HEADERS, timeout=10)
    assert ranked.status_code == 201, ranked.text
    event_id = ranked.json()["eventId"]
    reward = requests.post(
        url_for(base, version, f"/events/{event_id}/reward"), json={"value": 1}, headers=HEADERS, timeout=10
    )
    assert reward.status_code == 204
    configuration = requests.get(
        url_for(base, version, "/configurations/service"), headers=HEADERS, timeout=10
    )
    wait = configuration.json()["rewardWaitTime"]
    assert wait == "PT10M"  # every version's schema says format: duration, v1.0's too


@pytest.mark.parametrize("version", list(VERSIONS))
def test_a_refused_rank_names_the_operation_after_v1_0(base: str, version: str) -> None:
    refused = requests.post(
        url_for(base, version, "/rank"), json={"actions": []}, headers=HEADERS, timeout=10
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == ("BadRequest" if version == "v1.0" else "InvalidRankRequest")


def test_multi_slot_exists_from_v1_1_preview_1_on(base: str) -> None:
    absent = requests.post(
        url_for(base, "v1.0", "/multislot/rank"), json=MULTISLOT, headers=HEADERS, timeout=10
    )
    assert absent.status_code == 404 and absent.json()["error"]["code"] == "ResourceNotFound"
    for version in ("v1.1-preview.1", "v1.1-preview.3", "2022-09-01-preview"):
        # This loop's policy is single-slot: refused with the rank's code, never a 404 or a 5xx.
        answer = requests.post(
            url_for(base, version, "/multislot/rank"), json=MULTISLOT, headers=HEADERS, timeout=10
        )
        assert answer.status_code in (201, 400), answer.text
        if answer.status_code == 400:
            assert answer.json()["error"]["code"].startswith("Invalid")


def test_the_api_version_in_the_query_is_required_and_checked(base: str) -> None:
    missing = requests.post(f"{base}/personalizer/rank", json=RANK, headers=HEADERS, timeout=10)
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "MissingApiVersionParameter"
    unknown = requests.post(
        f"{base}/personalizer/rank?api-version=2099-01-01", json=RANK, headers=HEADERS, timeout=10
    )
    assert unknown.status_code == 400
    error = unknown.json()["error"]
    assert error["code"] == "UnsupportedApiVersionValue" and "2022-09-01-preview" in error["message"]
    assert requests.get(f"{base}/personalizer/v9.9/rank", headers=HEADERS, timeout=10).status_code == 400


def test_an_operation_of_another_version_is_404_and_another_method_405(base: str) -> None:
    put_model = requests.put(
        url_for(base, "v1.1-preview.2", "/model"), data=b"x", headers=HEADERS, timeout=10
    )
    assert put_model.status_code == 405  # GET and DELETE /model exist there; PUT came with preview.3
    posted = requests.post(
        url_for(base, "2022-09-01-preview", "/evaluations"), json={}, headers=HEADERS, timeout=10
    )
    assert posted.status_code == 405  # 2022-09-01-preview creates evaluations with PUT /evaluations/{id}
    assert (
        requests.get(url_for(base, "v1.0", "/featureImportances"), headers=HEADERS, timeout=10).status_code
        == 404
    )


def test_every_version_needs_the_key_but_not_for_its_description(base: str) -> None:
    for version in VERSIONS:
        assert requests.get(url_for(base, version, "/configurations/policy"), timeout=10).status_code == 401
        described = requests.get(url_for(base, version, "/openapi.json"), timeout=10)
        assert described.status_code == 200 and described.json()["info"]["version"] == version


def test_a_signed_export_imports_and_an_unsigned_model_is_refused_after_v1_0(base: str) -> None:
    url = url_for(base, "2022-09-01-preview", "/model")
    raw = requests.get(url, headers=HEADERS, timeout=10).content
    signed = requests.get(url + "&signed=true", headers=HEADERS, timeout=10).content
    octet = dict(HEADERS, **{"Content-Type": "application/octet-stream"})
    assert requests.put(url, data=signed, headers=octet, timeout=10).status_code == 204
    assert requests.get(url, headers=HEADERS, timeout=10).content == raw
    refused = requests.put(url, data=raw, headers=octet, timeout=10)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "InvalidModelImportSignature"
    assert (
        requests.put(url_for(base, "v1.0", "/model"), data=raw, headers=octet, timeout=10).status_code == 204
    )

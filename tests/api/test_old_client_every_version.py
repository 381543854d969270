"""The old client (azure-cognitiveservices-personalizer) and the bot's azure backend on every path version.

The old client (rank, reward, activate: all it has) builds `{Endpoint}/personalizer/v1.0`; the v1.1
previews serve the same calls, so pointing its base URL at another version (the only change) must work
there too.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from azure.cognitiveservices.personalizer import PersonalizerClient
from azure.cognitiveservices.personalizer.models import RankableAction, RankRequest
from microsoft_sdk import running_service
from msrest.authentication import CognitiveServicesCredentials

from bot.personalizer.azure import AzureRanker
from bot.personalizer.base import RankableAction as PortAction
from bot.personalizer.base import RankRequest as PortRequest

KEY = "old-client-key"
PATH_VERSIONS = ("v1.0", "v1.1-preview.1", "v1.1-preview.2", "v1.1-preview.3")


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_service(tmp_path_factory.mktemp("old_client"), KEY) as url:
        yield url


def client_for(endpoint: str, version: str) -> PersonalizerClient:
    client = PersonalizerClient(endpoint, CognitiveServicesCredentials(KEY))
    client.config.base_url = "{Endpoint}/personalizer/" + version
    return client


@pytest.mark.parametrize("version", PATH_VERSIONS)
def test_the_quickstart_calls_work_on_every_path_version(endpoint: str, version: str) -> None:
    client = client_for(endpoint, version)
    actions = [
        RankableAction(id="pasta", features=[{"taste": "salty"}]),
        RankableAction(id="ice cream", features=[{"taste": "sweet"}]),
        RankableAction(id="juice", features=[{"taste": "sweet"}]),
    ]
    event_id = uuid.uuid4().hex
    request = RankRequest(
        actions=actions,
        context_features=[{"taste": "sweet"}, {"time": "evening"}],
        excluded_actions=["juice"],
        event_id=event_id,
    )
    response = client.rank(rank_request=request)
    assert response.event_id == event_id and response.reward_action_id in {"pasta", "ice cream"}
    client.events.reward(event_id=event_id, value=1.0)
    client.events.activate(event_id=event_id)
    # Azure answered 204 for events it never ranked; the old client raises on anything else.
    client.events.reward(event_id="never-" + event_id, value=1.0)


@pytest.mark.parametrize("version", PATH_VERSIONS)
def test_the_bots_azure_backend_works_on_every_path_version(endpoint: str, version: str) -> None:
    ranker = AzureRanker(endpoint, KEY)
    ranker._client.config.base_url = "{Endpoint}/personalizer/" + version
    result = ranker.rank(
        PortRequest(
            context_features=[{"taste_preference": "sweet"}, {"time_of_day": "evening"}],
            actions=[
                PortAction("pad thai", [{"cuisine": "thai"}]),
                PortAction("pancakes", [{"meal": "breakfast"}]),
            ],
        )
    )
    assert result.reward_action_id in {"pad thai", "pancakes"}
    ranker.reward(result.event_id, 1.0)

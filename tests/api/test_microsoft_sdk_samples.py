"""Microsoft's samples for azure-ai-personalizer, run unchanged against this service (only endpoint and key set).

The SDK's source release has four samples: single-slot and multi-slot rank and reward, each sync and async.
The multi-slot ones expect a loop that is multi-slot already, so their service is switched first, with the
same policy change Microsoft's test helper makes.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from microsoft_sdk import running_service, sdk_environment, sdk_source

KEY = "microsoft-samples-key"
pytestmark = pytest.mark.timeout(600)
SAMPLES = (
    "rank_actions_and_reward_events.py",
    "multi_slot_rank_actions_and_reward_events.py",
    "async_samples/rank_actions_and_reward_events_async.py",
    "async_samples/multi_slot_rank_actions_and_reward_events_async.py",
)


@pytest.fixture(scope="module")
def environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """The samples' folder and an environment pointing them at a single-slot and a multi-slot service."""
    source = sdk_source()
    if source is None:
        pytest.skip("azure-ai-personalizer's source release is not available (no registry, no folder)")
    single_dir, multi_dir = tmp_path_factory.mktemp("single"), tmp_path_factory.mktemp("multi")
    with running_service(single_dir, KEY) as single, running_service(multi_dir, KEY) as multi:
        yield source / "samples", sdk_environment(single, multi, KEY)


def _make_multi_slot(endpoint: str) -> None:
    url = endpoint + "/personalizer/configurations/policy?api-version=2022-09-01-preview"
    headers = {"Ocp-Apim-Subscription-Key": KEY}
    policy = requests.get(url, headers=headers, timeout=10).json()
    if "--ccb_explore_adf" in policy["arguments"]:
        return
    arguments = policy["arguments"].replace("--cb_explore_adf", "--ccb_explore_adf")
    changed = requests.put(
        url, json={"name": "enable multi slot", "arguments": arguments}, headers=headers, timeout=10
    )
    if changed.status_code == 400 and "policy must contain --cb_explore_adf" in changed.text:
        pytest.skip("the engine has no multi-slot learning in this build")
    assert changed.status_code == 200, changed.text


@pytest.mark.parametrize("sample", SAMPLES)
def test_microsofts_sample_runs(environment: tuple[Path, dict[str, str]], sample: str) -> None:
    folder, env = environment
    if "multi_slot" in sample:
        _make_multi_slot(env["PERSONALIZER_ENDPOINT_MULTI_SLOT"])
    done = subprocess.run(
        [sys.executable, str(folder / sample)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    # Each sample prints what Rank recommended, then that the reward was sent (answered 204).
    assert "Completed sending reward" in done.stdout, done.stdout

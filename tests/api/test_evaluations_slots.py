"""A multi-slot loop's evaluation through REST and Microsoft's azure-ai-personalizer: a result per slot."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from bot.api.asgi import build_app
from bot.api.server import serving_in_thread
from bot.personalizer.local import evaluations_for
from tests.personalizer.local.test_evaluation_slots import START, WAIT, Clock, open_loop, play_slots

azure_personalizer = pytest.importorskip("azure.ai.personalizer")
from azure.core.credentials import AzureKeyCredential  # noqa: E402

KEY = "slot-evaluation-key"
LEARNER = "--ccb_explore_adf -q SA"


def test_microsofts_client_reads_each_slots_result(tmp_path: Any) -> None:
    clock = Clock(START)
    loop = open_loop(f"sqlite:///{tmp_path / 'slots.db'}", clock, policy=LEARNER)
    try:
        play_slots(loop, clock, 400)
        clock.now += WAIT + 1
        while loop.train_once():
            pass
        evaluations = evaluations_for(loop, clock=clock, in_process=True)
        with serving_in_thread(build_app(loop, KEY, evaluations=evaluations)) as base:
            client = azure_personalizer.PersonalizerAdministrationClient(base, AzureKeyCredential(KEY))
            window = {
                "start_time": datetime.fromtimestamp(START - 60, tz=UTC),
                "end_time": datetime.fromtimestamp(clock.now, tz=UTC),
            }
            contract = {
                "name": "slots",
                "startTime": window["start_time"].isoformat(),
                "endTime": window["end_time"].isoformat(),
                "policies": [{"name": "learner", "arguments": LEARNER}],
            }
            client.create_evaluation("slots", contract)
            assert evaluations.run_pending()  # what the service's runner thread does
            evaluation = client.get_evaluation("slots", **window)
            browser = requests.Session()
            signed_in = browser.post(f"{base}/dashboard/login", data={"key": KEY}, timeout=10)
            assert signed_in.ok, signed_in.text
            page = browser.get(f"{base}/dashboard/evaluations/slots", timeout=10).text
    finally:
        loop.close()
    assert evaluation["status"] == "Succeeded"
    found = {(p["name"], p["slotId"]): p for p in evaluation["content"]["value"]}
    names = ("online", "baseline1", "baselineRand", "learner")
    assert set(found) == {(name, slot) for name in names for slot in ("", "top", "side")}

    def reward(name: str, slot: str) -> float:
        return float(found[(name, slot)]["summary"]["expectedReward"])

    assert reward("baseline1", "top") == 0.0  # the top slot's baseline, a, is never rewarded
    assert found[("learner", "top")]["summary"]["confidenceInterval"][0] > reward("baselineRand", "top")
    assert reward("baseline1", "side") > reward("learner", "side")  # the side slot's baseline is its best
    assert all(p["timeseries"]["data"] for p in found.values())
    table = page.split('<table id="slots">', 1)[1].split("</table>", 1)[0]  # the dashboard's per-slot table
    shown = {
        (cells[0], cells[1]) for cells in (row.split("</td><td>") for row in table.split("<tr><td>")[1:])
    }
    assert shown == {(name, slot) for name in names for slot in ("top", "side")}

"""Evaluations in Azure's JSON: the shapes of the azure-ai-personalizer recordings, and v1.0's sums."""

from __future__ import annotations

import pytest

from bot.api import evaluation_wire as wire
from bot.personalizer.local import RUNNING, SUCCEEDED, Job, Series

# 2022-09-20 .. 2022-09-30, as in Microsoft's recorded test (test_evaluation.py, 2022-11-04).
START, END, CREATED = 1663632000.0, 1664496000.0, 1667521514.25


def job(status: str, result: dict | None = None, evaluation_type: str = "Manual") -> Job:
    return Job(
        id="b37ba3bd-fc8e-447d-80b2-6e1619a4aa05",
        kind="evaluation",
        name="python_sdk_test_evaluation",
        evaluation_type=evaluation_type,
        status=status,
        created_at=CREATED,
        start_time=START,
        end_time=END,
        request={},
        result=result,
        message=None,
        progress=0.0,
        finished_at=None,
    )


def series(rewards: list[tuple[float, float, float, float]]) -> dict:
    """(ranked_at, p_log, reward, p_pred) events → a stored Series."""
    s = Series(300)
    for at, p_log, reward, p_pred in rewards:
        s.add(at, p_log, reward, p_pred)
    return s.to_dict()


def test_a_running_evaluation_looks_like_azures_first_answer() -> None:
    body = wire.evaluation_2022(job(RUNNING))
    assert body == {
        "id": "b37ba3bd-fc8e-447d-80b2-6e1619a4aa05",
        "name": "python_sdk_test_evaluation",
        "startTime": "2022-09-20T00:00:00Z",
        "endTime": "2022-09-30T00:00:00Z",
        "creationTime": "2022-11-04T00:25:14.250000Z",
        "status": "Running",
        "evaluationType": "Manual",
        "content": {
            "startTime": "0001-01-01T00:00:00Z",  # Azure: no Z, which is no RFC 3339 date-time
            "endTime": "0001-01-01T00:00:00Z",
            "intervalInMinutes": 0,
            "value": [],
        },
    }


def test_a_succeeded_evaluation_has_azures_keys_and_an_expanding_series() -> None:
    events = [(START + 3600 + 60 * i, 0.5, float(i % 2), 0.5) for i in range(20)]  # 20 minutes, 4 intervals
    result = {
        "optimalPolicy": "online",
        "reason": "no candidate policy was evaluated",
        "policies": [
            {"name": "online", "source": "Online", "arguments": "--cb_explore_adf", "series": series(events)},
            {"name": "baseline1", "source": "Baseline", "arguments": "", "series": series(events)},
        ],
    }
    body = wire.evaluation_2022(job(SUCCEEDED, result))
    assert set(body) == {
        "id",
        "name",
        "startTime",
        "endTime",
        "creationTime",
        "status",
        "evaluationType",
        "optimalPolicy",
        "content",
    }
    assert body["status"] == "Succeeded" and body["optimalPolicy"] == "online"
    content = body["content"]
    assert (content["startTime"], content["endTime"], content["intervalInMinutes"]) == (
        "2022-09-20T00:00:00Z", "2022-09-30T00:00:00Z", 5,
    )  # fmt: skip
    online = content["value"][0]
    assert set(online) == {"name", "slotId", "policySource", "arguments", "summary", "timeseries"}
    assert set(content["value"][1]) == {"name", "slotId", "policySource", "summary", "timeseries"}
    assert online["summary"]["expectedReward"] == pytest.approx(0.5)
    low, high = online["summary"]["confidenceInterval"]
    assert low < 0.5 < high
    data = online["timeseries"]["data"]
    assert [d["timeStamp"] for d in data] == [
        "2022-09-20T01:00:00Z", "2022-09-20T01:05:00Z", "2022-09-20T01:10:00Z", "2022-09-20T01:15:00Z",
    ]  # fmt: skip
    assert data[-1]["expectedReward"] == online["summary"]["expectedReward"]  # expanding: ends at the summary
    assert set(data[0]) == {"timeStamp", "expectedReward", "confidenceInterval"}
    hourly = wire.evaluation_2022(job(SUCCEEDED, result), interval_minutes=60, rolling=True)
    assert [d["timeStamp"] for d in hourly["content"]["value"][0]["timeseries"]["data"]] == [
        "2022-09-20T01:00:00Z"
    ]


def test_an_auto_evaluation_shows_its_decision() -> None:
    result = {
        "optimalPolicy": "Hyper1",
        "reason": "Hyper1: lower bound 0.7 > online expected reward 0.2",
        "policies": [],
        "decision": {
            "applied": True,
            "reason": "applied: ...",
            "from": "--cb_explore_adf",
            "to": "--cb_explore_adf -q CA",
            "at": END,
        },
    }
    body = wire.evaluation_2022(job(SUCCEEDED, result, "Auto"))
    assert body["evaluationType"] == "Auto"
    assert (
        body["autoOptimization"]["applied"] is True
        and body["autoOptimization"]["to"] == "--cb_explore_adf -q CA"
    )


def test_v1_summaries_carry_the_ips_and_snips_sums() -> None:
    # Four events at p = 0.5; the policy takes the logged action on the first two (weight 2), not the others.
    events = [
        (START, 0.5, 1.0, 1.0),
        (START + 60, 0.5, 0.0, 1.0),
        (START + 400, 0.5, 1.0, 0.0),
        (START + 460, 0.5, 1.0, 0.0),
    ]
    result = {
        "optimalPolicy": "online",
        "reason": "",
        "policies": [
            {"name": "c", "source": "Custom", "arguments": "--cb_explore_adf", "series": series(events)}
        ],
    }
    body = wire.evaluation_v1(job(SUCCEEDED, result))
    assert body["status"] == "completed"
    (policy,) = body["policyResults"]
    total = policy["totalSummary"]
    assert total["ipsEstimatorNumerator"] == 2.0 and total["ipsEstimatorDenominator"] == 4
    assert total["snipsEstimatorDenominator"] == 4.0 and total["sumOfSquares"] == 4.0
    assert total["nonZeroProbability"] == 2
    assert total["confidenceInterval"] == pytest.approx(1.959964 * (1.0 / 4) ** 0.5, abs=1e-5)  # variance 1
    assert [s["ipsEstimatorDenominator"] for s in policy["summary"]] == [2, 2]  # two 5-minute intervals
    assert policy["summary"][0]["aggregateTimeWindow"] == "PT5M"  # v1.0's schema: format duration
    assert wire.evaluation_v1(job(RUNNING))["status"] == "pending"


@pytest.mark.parametrize(
    ("text", "epoch"),
    [
        ("2022-09-20", START),
        ("2022-09-20T00:00:00Z", START),
        ("2022-09-20T00:00:00.000Z", START),
        ("2022-09-20T02:00:00+02:00", START),
    ],
)
def test_times_are_read_as_azure_clients_send_them(text: str, epoch: float) -> None:
    assert wire.parse_time(text, "startTime") == epoch


def test_bad_times_and_bodies_name_the_field() -> None:
    with pytest.raises(ValueError, match="startTime"):
        wire.parse_time("20 Sept", "startTime")
    with pytest.raises(ValueError, match="name"):
        wire.parse_contract({"startTime": "2022-09-20", "endTime": "2022-09-30"})
    with pytest.raises(ValueError, match="policies"):
        wire.parse_contract(
            {"name": "x", "startTime": "2022-09-20", "endTime": "2022-09-30", "policies": [{"name": 1}]}
        )
    with pytest.raises(ValueError, match="enableOfflineExperimentation"):
        wire.parse_contract(
            {
                "name": "x",
                "startTime": "2022-09-20",
                "endTime": "2022-09-30",
                "enableOfflineExperimentation": "yes",
            }
        )


@pytest.mark.parametrize(
    "text", ["0462-07-06T09:14:42Z", "0001-01-01T00:00:00Z", "2022-09-20T00:00:00.250000Z"]
)
def test_times_are_written_as_rfc_3339_whatever_the_year(text: str) -> None:
    assert wire.format_time(wire.parse_time(text, "startTime")) == text


def test_microsofts_example_evaluation_is_read_without_its_input_format_flag() -> None:
    # stable/v1.0/examples/Evaluations_Create.json: its one candidate policy carries --dsjson
    arguments = "--cb_explore_adf --epsilon 0.2 --dsjson --cb_type ips -l 0.5 --l1 1E-07 --power_t 0.5"
    body = {
        "enableOfflineExperimentation": True,
        "name": "myFirstEvaluation",
        "startTime": "2018-12-19T00:00:00Z",
        "endTime": "2019-01-19T00:00:00Z",
        "policies": [{"name": "Custom Learning settings 1", "arguments": arguments}],
    }
    _, _, _, policies, discover = wire.parse_contract(body)
    assert policies == [
        (
            "Custom Learning settings 1",
            "--cb_explore_adf --epsilon 0.2 --cb_type ips -l 0.5 --l1 1E-07 --power_t 0.5",
        )
    ]
    assert discover is True

"""Evaluations and feature importances in Personalizer's JSON: v1.0's and 2022-09-01-preview's shapes."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from typing import Any

from bot.api.wire_config import policy_arguments_for_vw
from bot.personalizer.local import (
    FAILED,
    SUCCEEDED,
    Estimate,
    Job,
    Series,
    estimate,
    format_duration,
)

DEFAULT_INTERVAL_MINUTES = 5
V1_STATUS = {"Running": "pending", SUCCEEDED: "completed", FAILED: "failed"}
# Azure's recordings show a running evaluation's empty content as 0001-01-01T00:00:00, without an offset: not
# an RFC 3339 date-time, which Microsoft's schema (format: date-time) asks for; the same instant in UTC is.
EMPTY_TIME = "0001-01-01T00:00:00Z"


def parse_time(value: Any, field: str) -> float:
    """Epoch seconds from an ISO-8601 date or date-time (UTC when no offset is given); ValueError."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{field} must be an ISO-8601 date or date-time")
    text = value.strip()
    try:
        if len(text) == 10:
            parsed = datetime.combine(date.fromisoformat(text), datetime.min.time())
        else:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{field} must be an ISO-8601 date or date-time, got {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def format_time(epoch: float) -> str:
    """Personalizer's UTC date-time: 2022-09-20T00:00:00Z (fractions of a second when there are any)."""
    moment = datetime.fromtimestamp(epoch, tz=UTC)
    # isoformat, not strftime: %Y writes the year 462 as "462", which is no RFC 3339 date-time.
    text = moment.replace(microsecond=0, tzinfo=None).isoformat()
    if moment.microsecond:
        text += f".{moment.microsecond:06d}"
    return text + "Z"


def parse_contract(body: Any) -> tuple[str, float, float, list[tuple[str, str]], bool]:
    """name, start, end, policies, discover from an EvaluationContract; ValueError names the field."""
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 256:
        raise ValueError("name is required: a string of 1..256 characters")
    start = parse_time(body.get("startTime"), "startTime")
    end = parse_time(body.get("endTime"), "endTime")
    policies = body.get("policies", [])
    if not isinstance(policies, list):
        raise ValueError("policies must be a list of {name, arguments}")
    parsed = []
    for index, policy in enumerate(policies):
        if not isinstance(policy, dict) or not all(
            isinstance(policy.get(k), str) for k in ("name", "arguments")
        ):
            raise ValueError(f"policies[{index}] must be an object with string name and arguments")
        # Microsoft's own example evaluation carries --dsjson, an input-format flag the loop has no use for
        # (it hands VW examples, not files): dropped here as PUT /configurations/policy drops it.
        parsed.append((policy["name"], policy_arguments_for_vw(policy["arguments"])))
    discover = body.get("enableOfflineExperimentation", body.get("enablePolicyOptimization", False))
    if not isinstance(discover, bool):
        raise ValueError("enableOfflineExperimentation must be true or false")
    return name, start, end, parsed, discover


def parse_importance_contract(body: Any) -> tuple[str, float, float]:
    """name, start, end from a FeatureImportance body."""
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 256:
        raise ValueError("name is required: a string of 1..256 characters")
    return name, parse_time(body.get("startTime"), "startTime"), parse_time(body.get("endTime"), "endTime")


def _header(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "name": job.name,
        "startTime": format_time(job.start_time),
        "endTime": format_time(job.end_time),
        "creationTime": format_time(job.created_at),
        "status": job.status,
    }


def evaluation_2022(
    job: Job,
    interval_minutes: int = DEFAULT_INTERVAL_MINUTES,
    rolling: bool = False,
    start: float | None = None,
    end: float | None = None,
) -> dict[str, Any]:
    """2022-09-01-preview's Evaluation: content.value[] per policy, with summary and timeseries."""
    out = {**_header(job), "evaluationType": job.evaluation_type}
    if job.status != SUCCEEDED or job.result is None:
        out["content"] = {"startTime": EMPTY_TIME, "endTime": EMPTY_TIME, "intervalInMinutes": 0, "value": []}
        return out
    out["optimalPolicy"] = job.result["optimalPolicy"]
    values = []
    for policy in job.result["policies"]:
        # The overall result (slotId empty), then a multi-slot log's result per slot, as PolicyResult says.
        for slot_id, data in [("", policy["series"]), *policy.get("slots", {}).items()]:
            series = Series.from_dict(data)
            points = [
                {"timeStamp": format_time(at), **_reward(e)}
                for at, e in series.points(interval_minutes * 60, rolling)
                if (start is None or at >= start) and (end is None or at < end)
            ]
            item: dict[str, Any] = {
                "name": policy["name"],
                "slotId": slot_id,
                "policySource": policy["source"],
            }
            if policy["arguments"]:
                item["arguments"] = policy["arguments"]
            item["summary"] = _reward(estimate(series.total))
            item["timeseries"] = {"data": points}
            values.append(item)
    out["content"] = {
        "startTime": format_time(job.start_time),
        "endTime": format_time(job.end_time),
        "intervalInMinutes": interval_minutes,
        "value": values,
    }
    if "decision" in job.result:
        out["autoOptimization"] = job.result["decision"]
    return out


def evaluation_v1(job: Job) -> dict[str, Any]:
    """v1.0's Evaluation: policyResults[] with per-interval IPS/SNIPS sums and a totalSummary."""
    out = _header(job)
    del out["creationTime"]
    out["status"] = V1_STATUS.get(job.status, "failed")
    results = []
    if job.result is not None and job.status == SUCCEEDED:
        for policy in job.result["policies"]:
            series = Series.from_dict(policy["series"])
            buckets = sorted(series.buckets.items())
            results.append(
                {
                    "name": policy["name"],
                    "arguments": policy["arguments"],
                    "summary": [_v1_summary(at, s, series.bucket_seconds) for at, s in buckets],
                    "totalSummary": _v1_summary(job.end_time, series.total, 0),
                }
            )
    out["policyResults"] = results
    out["featureImportance"] = []
    return out


def feature_importance_2022(job: Job) -> dict[str, Any]:
    """2022-09-01-preview's FeatureImportance: featureScores[] of {namespace, featureName, score}."""
    out = _header(job)
    out["featureScores"] = list(job.result["featureScores"]) if job.result and job.status == SUCCEEDED else []
    return out


def listing(job: Job) -> dict[str, Any]:
    """One entry of a list: the header only, as Personalizer's lists show."""
    out = _header(job)
    if job.kind == "evaluation":
        out["evaluationType"] = job.evaluation_type
    return out


def _reward(e: Estimate) -> dict[str, Any]:
    value = _finite(e.expected_reward)
    return {"expectedReward": value, "confidenceInterval": [_finite(e.low), _finite(e.high)]}


def _v1_summary(at: float, sums: Any, window_seconds: int) -> dict[str, Any]:
    e = estimate(sums)
    half = 0.0 if e.low is None or e.high is None else (e.high - e.low) / 2
    return {
        "timeStamp": format_time(at),
        "ipsEstimatorNumerator": sums.weighted_reward,
        "ipsEstimatorDenominator": sums.count,
        "snipsEstimatorDenominator": sums.weight,
        "aggregateTimeWindow": format_duration(window_seconds),
        "nonZeroProbability": sums.nonzero,
        "confidenceInterval": half,
        "sumOfSquares": sums.weighted_reward_sq,
    }


def _finite(value: float | None) -> float:
    return 0.0 if value is None or not math.isfinite(value) else round(float(value), 8)

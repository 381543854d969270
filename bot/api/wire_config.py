"""Service configuration and policy on the wire, per API version: durations, extra fields, names as sent.

Every version reads durations as ISO-8601 (`"PT10M"`) or as .NET TimeSpans (`"00:10:00"`, which older
examples of v1.0 wrote), and answers ISO-8601, as every version's schema (`format: duration`) and examples say. The fields Azure added after v1.0
(`modelRetrainDays`, `isAutoOptimizationEnabled`, ...) are kept in the loop's settings and returned.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

from bot.personalizer.base import InvalidRequest
from bot.personalizer.local import format_duration, parse_duration

TIMESPAN = re.compile(r"^(-)?(?:(\d+)\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?$")
REQUIRED = (
    "rewardWaitTime",
    "defaultReward",
    "rewardAggregation",
    "explorationPercentage",
    "modelExportFrequency",
    "logRetentionDays",
)
LEARNING_MODES = ("Online", "Apprentice", "LoggingOnly")
# Flags that tell VW how to read its input: a policy needs none of them (the loop hands VW its examples),
# Microsoft's own example policy carries --dsjson, so they are accepted, kept in the policy's text, and not
# passed to VW.
INPUT_FORMAT_FLAGS = frozenset({"--dsjson", "--json"})


def parse_timespan(text: str) -> float | None:
    """Seconds from a .NET TimeSpan (`00:10:00`, `1.00:00:00`, `00:00:30.5`); None if it is not one."""
    found = TIMESPAN.match(text.strip())
    if found is None:
        return None
    sign, days, hours, minutes, seconds, fraction = found.groups()
    if int(hours) > 23 or int(minutes) > 59 or int(seconds or 0) > 59:
        return None
    total = int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + int(seconds or 0)
    value = total + (float("0." + fraction) if fraction else 0.0)
    return -value if sign else value


def duration_seconds(value: Any, where: str, parse_iso: Any) -> float:
    """Seconds from a TimeSpan or an ISO-8601 duration (`parse_iso`: the engine's parser)."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(f"{where} must be a duration such as PT10M or 00:10:00.", target=where)
    seconds = parse_timespan(value)
    if seconds is None:
        try:
            seconds = float(parse_iso(value))
        except (ValueError, OverflowError) as exc:
            raise InvalidRequest(f"{where}: {str(exc)[:200]}", target=where) from None
    if not math.isfinite(seconds) or seconds < 0:
        raise InvalidRequest(f"{where} must be a non-negative duration.", target=where)
    return seconds


def parse_datetime(value: Any, where: str) -> float:
    """Epoch seconds from an ISO-8601 date-time (no offset: UTC, as Azure writes them)."""
    if not isinstance(value, str):
        raise InvalidRequest(f"{where} must be an ISO-8601 date-time.", target=where)
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest(f"{where} must be an ISO-8601 date-time.", target=where) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def format_datetime(epoch: float | None) -> str | None:
    """RFC 3339 in UTC with a Z, to the second."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, tz=UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def policy_arguments_for_vw(arguments: str) -> str:
    """The arguments without input-format flags (VW is handed examples, not files)."""
    return " ".join(word for word in arguments.split() if word not in INPUT_FORMAT_FLAGS)


def number(value: Any, where: str) -> float:
    """A JSON number (not a boolean) that a float holds."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRequest(f"{where} must be a number.", target=where)
    try:
        result = float(value)
    except OverflowError:  # an integer of hundreds of digits
        raise InvalidRequest(f"{where} is out of range.", target=where) from None
    if not math.isfinite(result):
        raise InvalidRequest(f"{where} must be a finite number.", target=where)
    return result


def integer(value: Any, where: str) -> int:
    """A whole JSON number."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(f"{where} must be a whole number.", target=where)
    return value


def boolean(value: Any, where: str) -> bool:
    """A JSON true or false."""
    if not isinstance(value, bool):
        raise InvalidRequest(f"{where} must be true or false.", target=where)
    return value


def text(value: Any, where: str) -> str:
    """A JSON string."""
    if not isinstance(value, str):
        raise InvalidRequest(f"{where} must be a string.", target=where)
    return value


def settings_to_json(settings: Any) -> dict[str, Any]:
    """Personalizer's ServiceConfiguration: durations in ISO-8601, every kept field."""
    duration = format_duration
    body: dict[str, Any] = {
        "rewardWaitTime": duration(settings.reward_wait_time),
        "defaultReward": settings.default_reward,
        "rewardAggregation": settings.reward_aggregation,
        "explorationPercentage": settings.exploration_percentage,
        "modelExportFrequency": duration(settings.model_export_frequency),
        "logRetentionDays": settings.log_retention_days,
        "learningMode": settings.learning_mode,
        "isAutoOptimizationEnabled": settings.auto_optimization_enabled,
        "autoOptimizationFrequency": duration(settings.auto_optimization_frequency),
        "modelRetrainDays": settings.model_retrain_days,
        "isInferenceExplainabilityEnabled": settings.inference_explainability_enabled,
    }
    if settings.auto_optimization_start_date is not None:
        body["autoOptimizationStartDate"] = format_datetime(settings.auto_optimization_start_date)
    if settings.last_configuration_edit_date is not None:
        body["lastConfigurationEditDate"] = format_datetime(settings.last_configuration_edit_date)
    return body


def settings_changes_from_json(body: Any) -> dict[str, Any]:
    """The LoopSettings fields a ServiceConfiguration sets (validated ranges are the engine's to check)."""
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a service configuration object.", target="config")
    for name in REQUIRED:
        if body.get(name) is None:
            raise InvalidRequest(f"{name} is required.", target=name)
    changes: dict[str, Any] = {
        "reward_wait_time": duration_seconds(body["rewardWaitTime"], "rewardWaitTime", parse_duration),
        "model_export_frequency": duration_seconds(
            body["modelExportFrequency"], "modelExportFrequency", parse_duration
        ),
        "default_reward": number(body["defaultReward"], "defaultReward"),
        "exploration_percentage": number(body["explorationPercentage"], "explorationPercentage"),
        "reward_aggregation": text(body["rewardAggregation"], "rewardAggregation").lower(),
        "log_retention_days": integer(body["logRetentionDays"], "logRetentionDays"),
    }
    optional = {
        "learningMode": (
            "learning_mode",
            lambda v, w: {m.lower(): m for m in LEARNING_MODES}.get(text(v, w).lower(), v),
        ),
        "modelRetrainDays": ("model_retrain_days", integer),
        "isAutoOptimizationEnabled": ("auto_optimization_enabled", boolean),
        "autoOptimizationFrequency": (
            "auto_optimization_frequency",
            lambda v, w: duration_seconds(v, w, parse_duration),
        ),
        "autoOptimizationStartDate": ("auto_optimization_start_date", parse_datetime),
        "isInferenceExplainabilityEnabled": ("inference_explainability_enabled", boolean),
    }
    for name, (field, read) in optional.items():
        if body.get(name) is not None:
            changes[field] = read(body[name], name)
    return changes


def policy_to_json(settings: Any, default_name: str) -> dict[str, Any]:
    """PolicyContract: the name and arguments as last sent (the engine's arguments when none were)."""
    arguments = settings.policy_arguments or settings.policy
    return {"name": settings.policy_name or default_name, "arguments": arguments}


def policy_from_json(body: Any) -> tuple[str, str]:
    """(name, arguments as sent) of a PolicyContract."""
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a policy object: {name, arguments}.", target="policy")
    arguments = body.get("arguments")
    if not isinstance(arguments, str) or not arguments.strip():
        raise InvalidRequest("arguments is required: Vowpal Wabbit arguments.", target="arguments")
    if len(arguments) > 1024:
        raise InvalidRequest("arguments must be at most 1024 characters.", target="arguments")
    name = body.get("name")
    if name is not None and (not isinstance(name, str) or len(name) > 256):
        raise InvalidRequest("name must be a string of at most 256 characters.", target="name")
    return (name or "").strip(), arguments.strip()

"""Personalizer v1.0 JSON <-> the port's and the engine's values. camelCase lives here and nowhere else.

Every function that reads a body raises InvalidRequest (code, message, target) for anything Personalizer
would have refused, so the HTTP layer only turns exceptions into status codes.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from bot.personalizer.base import InvalidRequest, RankableAction, RankRequest, RankResult
from bot.personalizer.local import (
    check_id,
)


def parse_json(raw: bytes) -> Any:
    """Decode a JSON body; NaN/Infinity and invalid UTF-8 are malformed too."""
    if not raw.strip():
        raise InvalidRequest("The request body is empty; a JSON object was expected.")
    try:
        return _DECODER.decode(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise InvalidRequest(f"The request body is not valid JSON: {_short(exc)}") from None


def rank_request_from_json(body: Any) -> RankRequest:
    """A RankRequest from Personalizer's JSON, or InvalidRequest naming the field."""
    _require_object(body, "rankRequest")
    actions_json = body.get("actions")
    if actions_json is None:
        raise InvalidRequest("actions is required.", target="actions")
    if not isinstance(actions_json, list) or not actions_json:
        raise InvalidRequest("actions must be a non-empty array of actions.", target="actions")
    # Types only here; the loop's validation owns Personalizer's rules (duplicates, features, limits).
    actions: list[RankableAction] = []
    for index, action in enumerate(actions_json):
        where = f"actions[{index}]"
        _require_object(action, where)
        action_id = check_id(action.get("id"), f"{where}.id")
        if action.get("features") is None:
            raise InvalidRequest("features is required (an array of objects).", target=f"{where}.features")
        features = _objects(action["features"], f"{where}.features")
        actions.append(RankableAction(id=action_id, features=features))
    context = body.get("contextFeatures")
    excluded = body.get("excludedActions")
    event_id = body.get("eventId")
    defer = body.get("deferActivation")
    if defer is not None and not isinstance(defer, bool):
        raise InvalidRequest("deferActivation must be true or false.", target="deferActivation")
    return RankRequest(
        context_features=[] if context is None else _objects(context, "contextFeatures"),
        actions=actions,
        excluded_actions=[] if excluded is None else _ids(excluded, "excludedActions"),
        event_id=None if event_id is None else check_id(event_id, "eventId"),
        defer_activation=bool(defer),
    )


def rank_result_to_json(result: RankResult) -> dict[str, Any]:
    """Personalizer's RankResponse."""
    return {
        "ranking": [{"id": ranked.id, "probability": ranked.probability} for ranked in result.ranking],
        "eventId": result.event_id,
        "rewardActionId": result.reward_action_id,
    }


def event_id_from_path(event_id: str) -> str:
    """Check an event ID taken from the URL."""
    return check_id(event_id, "eventId")


def reward_value_from_json(body: Any) -> float:
    """The `value` of a RewardRequest; numeric strings ("1.0", as the Personalizer quickstart writes it) are accepted."""
    _require_object(body, "reward")
    value = body.get("value")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise InvalidRequest("value must be a number.", target="value") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not _finite(value):
        raise InvalidRequest("value is required: a number between -1 and 1.", target="value")
    return float(value)


def model_properties_to_json(properties: dict[str, Any]) -> dict[str, Any]:
    """Personalizer's ModelProperties."""
    return {
        "creationTime": _timestamp(properties.get("creation_time")),
        "lastModifiedTime": _timestamp(properties.get("last_modified_time")),
    }


def log_properties_to_json(properties: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Personalizer's LogsProperties: the date range the log covers (empty when there is none)."""
    start = properties.get("start_date")
    if start is None:
        return {"dateRange": {}}
    return {"dateRange": {"from": _timestamp(start), "to": _timestamp(now)}}


def _require_object(value: Any, where: str) -> None:
    if not isinstance(value, dict):
        raise InvalidRequest(f"{where} must be a JSON object.", target=where)


def _ids(value: Any, where: str) -> list[str]:
    if not isinstance(value, list):
        raise InvalidRequest(f"{where} must be an array of action ids.", target=where)
    return [check_id(item, f"{where}[{index}]") for index, item in enumerate(value)]


def _objects(value: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise InvalidRequest(f"{where} must be an array of objects.", target=where)
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise InvalidRequest(f"{where}[{index}] must be an object.", target=f"{where}[{index}]")
    return value


def _finite(value: int | float) -> bool:
    """True for a number that a float holds (an integer of 400 digits does not)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _timestamp(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(
    parse_constant=_reject_constant
)  # built once: json.loads(**options) builds one a call


def _short(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:200] + "..."

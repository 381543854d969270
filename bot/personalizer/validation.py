"""Rank request validation: every rule Personalizer enforces, each with its own message and target."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from bot.personalizer.base import InvalidRequest, RankRequest
from bot.personalizer.features import FeatureError, action_line, context_line, count_features

MAX_ID_LENGTH = 256
CACHED_ACTIONS = 20_000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)
# An action's VW line depends only on its id and features, and the same menu is ranked again and
# again: remember lines by the action's JSON, which the event log needs anyway.
_action_lines: dict[str, str] = {}


@dataclass(frozen=True)
class Featurized:
    """A valid rank request in VW's terms, and the allowed actions' JSON for the event log."""

    shared: str
    allowed: list[int]
    lines: list[str]
    actions_json: str


def check_id(value: object, target: str) -> str:
    """An event or action ID: a string of 1..256 characters without control characters."""
    if not isinstance(value, str):
        raise InvalidRequest(f"{target} must be a string.", target=target)
    if not 1 <= len(value) <= MAX_ID_LENGTH:
        raise InvalidRequest(f"{target} must be 1 to {MAX_ID_LENGTH} characters long.", target=target)
    if _CONTROL.search(value):
        raise InvalidRequest(f"{target} must not contain control characters.", target=target)
    return value


def featurize_request(request: RankRequest, max_actions: int) -> Featurized:
    """Validate the request and turn it into VW lines; InvalidRequest says what is wrong."""
    if not isinstance(request.actions, list) or not request.actions:
        raise InvalidRequest("actions must be a non-empty list.", target="actions")
    if len(request.actions) > max_actions:
        raise InvalidRequest(
            f"Too many actions: {len(request.actions)}; at most {max_actions} are allowed.", target="actions"
        )
    if not isinstance(request.excluded_actions, list):
        raise InvalidRequest("excludedActions must be a list of action IDs.", target="excludedActions")
    for position, excluded_id in enumerate(request.excluded_actions):
        check_id(excluded_id, f"excludedActions[{position}]")
    if request.event_id is not None:
        check_id(request.event_id, "eventId")
    if not isinstance(request.defer_activation, bool):
        raise InvalidRequest("deferActivation must be true or false.", target="deferActivation")
    try:
        if count_features(request.context_features) == 0:
            raise InvalidRequest("contextFeatures must hold at least one feature.", target="contextFeatures")
        shared = context_line(request.context_features)
    except FeatureError as exc:
        raise InvalidRequest(f"Invalid context features: {exc}", target="contextFeatures") from None
    excluded = set(request.excluded_actions)
    seen: set[str] = set()
    allowed: list[int] = []
    lines: list[str] = []
    logged: list[str] = []
    for position, action in enumerate(request.actions):
        action_id = check_id(getattr(action, "id", None), f"actions[{position}].id")
        if action_id in seen:
            raise InvalidRequest(f"Duplicate action ID {action_id!r}.", target=f"actions[{position}].id")
        seen.add(action_id)
        as_json, line = _action(action_id, action.features, f"actions[{position}].features")
        if action_id not in excluded:
            allowed.append(position)
            lines.append(line)
            logged.append(as_json)
    if not allowed:
        raise InvalidRequest("Every action is excluded: nothing is left to rank.", target="excludedActions")
    return Featurized(shared, allowed, lines, "[" + ",".join(logged) + "]")


def _action(action_id: str, features: Any, target: str) -> tuple[str, str]:
    try:
        as_json = _ENCODER.encode({"id": action_id, "features": features})
    except (TypeError, ValueError):
        raise InvalidRequest(
            f"Invalid features of action {action_id!r}: not JSON values", target=target
        ) from None
    line = _action_lines.get(as_json)
    if line is None:
        try:
            line = action_line(action_id, features)
        except FeatureError as exc:
            raise InvalidRequest(f"Invalid features of action {action_id!r}: {exc}", target=target) from None
        if len(_action_lines) >= CACHED_ACTIONS:
            _action_lines.clear()
        _action_lines[as_json] = line
    return as_json, line

"""Rank request validation: every rule Personalizer enforces, each with its own message and target."""

from __future__ import annotations

from bot.personalizer.base import InvalidRequest, RankRequest
from bot.personalizer.features import FeatureError, action_line, context_line, count_features

MAX_ID_LENGTH = 256


def check_id(value: object, target: str) -> str:
    """An event or action ID: a string of 1..256 characters without control characters."""
    if not isinstance(value, str):
        raise InvalidRequest(f"{target} must be a string.", target=target)
    if not 1 <= len(value) <= MAX_ID_LENGTH:
        raise InvalidRequest(f"{target} must be 1 to {MAX_ID_LENGTH} characters long.", target=target)
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise InvalidRequest(f"{target} must not contain control characters.", target=target)
    return value


def featurize_request(request: RankRequest, max_actions: int) -> tuple[str, list[int], list[str]]:
    """Validate the request; return the shared line, the indexes of allowed actions and their lines."""
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
    for position, action in enumerate(request.actions):
        action_id = check_id(getattr(action, "id", None), f"actions[{position}].id")
        if action_id in seen:
            raise InvalidRequest(f"Duplicate action ID {action_id!r}.", target=f"actions[{position}].id")
        seen.add(action_id)
        try:
            line = action_line(action_id, action.features)
        except FeatureError as exc:
            raise InvalidRequest(
                f"Invalid features of action {action_id!r}: {exc}", target=f"actions[{position}].features"
            ) from None
        if action_id not in excluded:
            allowed.append(position)
            lines.append(line)
    if not allowed:
        raise InvalidRequest("Every action is excluded: nothing is left to rank.", target="excludedActions")
    return shared, allowed, lines

"""Rank request validation: every rule Personalizer enforces, each with its own message and target."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from bot.personalizer.base import MAX_ID_LENGTH, InvalidRequest, RankRequest
from bot.personalizer.local.features import FeatureError, action_line, context_line, count_features, with_id

CACHED = 20_000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)
# The same menus and contexts are ranked again and again, and their JSON is what the event log keeps
# anyway: remember what validating and featurizing them gave, keyed by that JSON.
_contexts: dict[str, str] = {}  # context JSON -> shared line
_Menu = tuple[tuple[int, ...], tuple[str, ...], str, tuple[str, ...]]
_menus: dict[tuple[str, tuple[str, ...]], _Menu] = {}


@dataclass(frozen=True)
class Featurized:
    """A valid rank request in VW's terms, and its context and allowed actions as JSON for the event log."""

    shared: str
    allowed: tuple[int, ...]
    lines: tuple[str, ...]  # the allowed actions' features
    context_json: str
    actions_json: str
    id_lines: tuple[str, ...] = ()  # the same with each action's ID as a feature


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
    context_json, shared = _context(request.context_features)
    menu = _encoded([[getattr(a, "id", None), getattr(a, "features", None)] for a in request.actions])
    key = (menu or "", tuple(request.excluded_actions))
    found = _menus.get(key) if menu is not None else None
    if found is None:
        found = _menu(request.actions, set(request.excluded_actions))
        if menu is not None:
            _remember(_menus, key, found)
    allowed, lines, actions_json, id_lines = found
    return Featurized(shared, allowed, lines, context_json, actions_json, id_lines)


def _context(features: Any) -> tuple[str, str]:
    """The context as JSON and as VW's shared line."""
    as_json = _encoded(features)
    if as_json is not None and (shared := _contexts.get(as_json)) is not None:
        return as_json, shared
    try:
        if count_features(features) == 0:
            raise InvalidRequest("contextFeatures must hold at least one feature.", target="contextFeatures")
        shared = context_line(features)
    except FeatureError as exc:
        raise InvalidRequest(f"Invalid context features: {exc}", target="contextFeatures") from None
    if as_json is None:
        raise InvalidRequest("Invalid context features: not JSON values", target="contextFeatures")
    _remember(_contexts, as_json, shared)
    return as_json, shared


def _menu(actions: list[Any], excluded: set[str]) -> _Menu:
    """Validate the actions: the allowed positions, their VW lines (without and with the action ID as a
    feature), and their JSON for the event log."""
    seen: set[str] = set()
    allowed: list[int] = []
    lines: list[str] = []
    logged: list[str] = []
    for position, action in enumerate(actions):
        action_id = check_id(getattr(action, "id", None), f"actions[{position}].id")
        if action_id in seen:
            raise InvalidRequest(f"Duplicate action ID {action_id!r}.", target=f"actions[{position}].id")
        seen.add(action_id)
        target = f"actions[{position}].features"
        as_json = _encoded({"id": action_id, "features": action.features})
        try:
            line = action_line(None, action.features)
        except FeatureError as exc:
            raise InvalidRequest(f"Invalid features of action {action_id!r}: {exc}", target=target) from None
        if as_json is None:
            raise InvalidRequest(f"Invalid features of action {action_id!r}: not JSON values", target=target)
        if action_id not in excluded:
            allowed.append(position)
            lines.append(line)
            logged.append(as_json)
    if not allowed:
        raise InvalidRequest("Every action is excluded: nothing is left to rank.", target="excludedActions")
    ids = tuple(with_id(actions[i].id, line) for i, line in zip(allowed, lines, strict=True))
    return tuple(allowed), tuple(lines), "[" + ",".join(logged) + "]", ids


def _encoded(value: Any) -> str | None:
    """Compact JSON, or None for what JSON cannot hold (NaN, objects): validation then says what is wrong."""
    try:
        return _ENCODER.encode(value)
    except (TypeError, ValueError):
        return None


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> None:
    if len(cache) >= CACHED:
        cache.clear()
    cache[key] = value

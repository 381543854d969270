"""Rank request validation: every rule Personalizer enforces, each with its own message and target."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from bot.personalizer.base import MAX_ID_LENGTH, InvalidRequest, RankRequest
from bot.personalizer.local.features import FeatureError, action_line, context_line, count_features, with_id
from bot.personalizer.local.limits import check_counts, check_storable, is_storable

CACHED = 20_000
# Each cache holds at most this many bytes of JSON keys and VW lines (besides at most CACHED entries):
# distinct big menus must not pile up (unbounded, 300 distinct 0.9 MB menus would keep about 800 MB).
CACHED_BYTES = 16 * 1024 * 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)
# The same menus and contexts are ranked again and again, and their JSON is what the event log keeps
# anyway: remember what validating and featurizing them gave, keyed by that JSON.
_contexts: dict[str, tuple[str, int]] = {}  # context JSON -> shared line, feature count
_menus: dict[tuple[str, tuple[str, ...]], _Menu] = {}
_sizes: dict[int, int] = {id(_contexts): 0, id(_menus): 0}  # bytes each cache holds


@dataclass(frozen=True)
class _Menu:
    """A validated menu: the allowed positions, their VW lines and feature counts, their JSON for the log."""

    allowed: tuple[int, ...]
    lines: tuple[str, ...]
    counts: tuple[int, ...]
    actions_json: str
    size: int  # bytes, for the cache's budget
    id_lines: tuple[str, ...]  # the lines with each action's ID as a feature


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
    if not value.isascii() and not is_storable(value):
        raise InvalidRequest(f"{target} holds text that cannot be stored (a lone surrogate).", target=target)
    return value


def featurize_request(request: RankRequest, max_actions: int, policy: str = "") -> Featurized:
    """Validate the request and turn it into VW lines; InvalidRequest says what is wrong.

    `policy` (VW arguments) bounds the work: the request's features, crossed as its interactions say,
    must stay within limits.MAX_INTERACTED_FEATURES.
    """
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
    context_json, shared, context_count = _context(request.context_features)
    menu = _encoded([[getattr(a, "id", None), getattr(a, "features", None)] for a in request.actions])
    key = (menu or "", tuple(request.excluded_actions))
    found = _menus.get(key) if menu is not None else None
    if found is None:
        found = _menu(request.actions, set(request.excluded_actions))
        if menu is not None:
            _remember(_menus, key, found, len(key[0]) + found.size)
    _check_budget(policy, context_count, found.counts)
    return Featurized(shared, found.allowed, found.lines, context_json, found.actions_json, found.id_lines)


@lru_cache(maxsize=4096)
def _check_budget(policy: str, context: int, actions: tuple[int, ...]) -> None:
    """check_counts, remembered: the same menus and contexts come again and again (only passes are kept)."""
    check_counts(policy, context, actions)


def _context(features: Any) -> tuple[str, str, int]:
    """The context as JSON, as VW's shared line, and how many features it has."""
    if isinstance(features, list):  # top-level names alone over the limit: refused before any encoding
        named = sum(1 for item in features if isinstance(item, dict) for name in item if str(name)[:1] != "_")
        check_counts("", named, ())
    as_json = _encoded(features)
    if as_json is not None and (found := _contexts.get(as_json)) is not None:
        return as_json, found[0], found[1]
    try:
        # Azure ranks a request without context features (201 in Microsoft's SDK recordings): the
        # actions' features alone then decide, and the shared line is empty.
        count = count_features(features)
        check_counts("", count, ())  # too many features: refused before the line is built
        shared = context_line(features)
    except FeatureError as exc:
        raise InvalidRequest(f"Invalid context features: {exc}", target="contextFeatures") from None
    if as_json is None:
        raise InvalidRequest("Invalid context features: not JSON values", target="contextFeatures")
    if not is_storable(shared):  # the line holds every name and value: one check for all of them
        check_storable(features, "contextFeatures")
    _remember(_contexts, as_json, (shared, count), len(as_json) + len(shared))
    return as_json, shared, count


def _menu(actions: list[Any], excluded: set[str]) -> _Menu:
    """Validate the actions: the allowed positions, their VW lines (without and with the action ID as a
    feature), and their JSON for the event log."""
    seen: set[str] = set()
    allowed: list[int] = []
    lines: list[str] = []
    counts: list[int] = []
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
            count = count_features(action.features) + 1  # and its id
        except FeatureError as exc:
            raise InvalidRequest(f"Invalid features of action {action_id!r}: {exc}", target=target) from None
        if as_json is None:
            raise InvalidRequest(f"Invalid features of action {action_id!r}: not JSON values", target=target)
        if not is_storable(line):
            check_storable(action.features, target)
        if action_id not in excluded:
            allowed.append(position)
            lines.append(line)
            counts.append(count)
            logged.append(as_json)
    if not allowed:
        raise InvalidRequest("Every action is excluded: nothing is left to rank.", target="excludedActions")
    actions_json = "[" + ",".join(logged) + "]"
    ids = tuple(with_id(actions[i].id, line) for i, line in zip(allowed, lines, strict=True))
    size = len(actions_json) + sum(len(line) for line in lines) + sum(len(line) for line in ids)
    return _Menu(tuple(allowed), tuple(lines), tuple(counts), actions_json, size, ids)


def _encoded(value: Any) -> str | None:
    """Compact JSON, or None for what JSON cannot hold (NaN, objects): validation then says what is wrong."""
    try:
        return _ENCODER.encode(value)
    except (TypeError, ValueError):
        return None


def _remember(cache: dict[Any, Any], key: Any, value: Any, size: int) -> None:
    """Keep a validated value; a cache over CACHED entries or CACHED_BYTES starts over (what is ranked
    often comes back at once). A value bigger than a tenth of the budget is not kept at all."""
    if size > CACHED_BYTES // 10:
        return
    held = _sizes[id(cache)] + size
    if len(cache) >= CACHED or held > CACHED_BYTES:
        cache.clear()
        held = size
    _sizes[id(cache)] = held
    cache[key] = value

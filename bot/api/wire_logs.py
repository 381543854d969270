"""Logs from elsewhere: Personalizer's decision-service JSON lines → the engine's imported events.

`POST /logs/interactions` and `/logs/observations` (v1.1-preview.2 on) take what Personalizer's client
libraries (VowpalWabbit/reinforcement_learning) log, one JSON object per line, as Personalizer's log export
wrote it (DSJSON):

    {"EventId": "e1", "a": [2, 1], "c": {"user": {"tier": "gold"}, "_multi": [{"_tag": "pasta", ...}, ...]},
     "p": [0.9, 0.1], "DeferredAction": false, "VWState": {"m": "..."}}
    {"EventId": "e1", "v": 1.0}            a reward          {"EventId": "e1", "ActionTaken": true}  an activation

`a` lists the actions (1-based indices into `c._multi`) in ranked order, the first one chosen with probability
`p[0]`. A line of an exported log that also carries its label (`_label_cost`, the reward negated) imports
both the decision and its reward.
"""

from __future__ import annotations

import json
import math
from typing import Any

from bot.personalizer.base import InvalidRequest, RankableAction, RankRequest
from bot.personalizer.local import ImportedInteraction, ImportedObservation

MAX_LINES = 10_000


def interactions_from_body(body: bytes) -> list[ImportedInteraction]:
    """Every decision in a body of JSON lines; InvalidRequest names the first bad line."""
    return [_interaction(item, n) for n, item in _lines(body)]


def observations_from_body(body: bytes) -> list[ImportedObservation]:
    """Every reward or activation in a body of JSON lines; InvalidRequest names the first bad line."""
    return [_observation(item, n) for n, item in _lines(body)]


def _lines(body: bytes) -> list[tuple[int, dict[str, Any]]]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequest("The body must be UTF-8 JSON lines.", code="InvalidRequest") from None
    found: list[tuple[int, dict[str, Any]]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line, parse_constant=_no_constants)
        except (ValueError, RecursionError):
            raise InvalidRequest(
                f"Line {number} is not JSON.", code="InvalidRequest", target=f"line {number}"
            ) from None
        if not isinstance(item, dict):
            raise InvalidRequest(f"Line {number} must be a JSON object.", code="InvalidRequest")
        found.append((number, item))
        if len(found) > MAX_LINES:
            raise InvalidRequest(f"At most {MAX_LINES} lines a request.", code="PayloadSizeExceeded")
    if not found:
        raise InvalidRequest("The body holds no events: one JSON object per line.", code="InvalidRequest")
    return found


def _interaction(item: dict[str, Any], number: int) -> ImportedInteraction:
    where = f"line {number}"
    event_id = _event_id(item, where)
    context = item.get("c")
    if not isinstance(context, dict):
        raise _bad(f"{where}: c (the context and its _multi actions) must be an object.", where)
    if "_slots" in context:
        raise _bad(f"{where}: multi-slot decisions cannot be imported; import single-slot ones.", where)
    actions = _actions(context.get("_multi"), where)
    ranked, probabilities = item.get("a"), item.get("p")
    if not isinstance(ranked, list) or not ranked or not all(_index(i, len(actions)) for i in ranked):
        raise _bad(f"{where}: a must list action numbers 1..{len(actions)}, the chosen one first.", where)
    if not isinstance(probabilities, list) or len(probabilities) != len(ranked):
        raise _bad(f"{where}: p must give one probability per entry of a.", where)
    if not all(_probability(p) for p in probabilities) or probabilities[0] <= 0:
        raise _bad(f"{where}: p must hold probabilities in 0..1, the chosen one above 0.", where)
    label_cost = item.get("_label_cost")
    reward = None
    if label_cost is not None:
        if (
            isinstance(label_cost, bool)
            or not isinstance(label_cost, int | float)
            or not math.isfinite(label_cost)
        ):
            raise _bad(f"{where}: _label_cost must be a number.", where)
        reward = -float(label_cost)
    defer = item.get("DeferredAction", False)
    if not isinstance(defer, bool):
        raise _bad(f"{where}: DeferredAction must be true or false.", where)
    features = [{key: value} for key, value in context.items() if not key.startswith("_")]
    request = RankRequest(
        context_features=features, actions=actions, event_id=event_id, defer_activation=defer
    )
    return ImportedInteraction(
        request=request, chosen_index=ranked[0] - 1, probability=float(probabilities[0]), reward=reward
    )


def _observation(item: dict[str, Any], number: int) -> ImportedObservation:
    where = f"line {number}"
    event_id = _event_id(item, where)
    taken = item.get("ActionTaken")
    if taken is not None:
        if taken is not True:
            raise _bad(f"{where}: ActionTaken, when given, must be true.", where)
        return ImportedObservation(event_id=event_id, value=None)
    value = item.get("v")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _bad(f"{where}: v must be the reward, a number (or send ActionTaken: true).", where)
    return ImportedObservation(event_id=event_id, value=float(value))


def _actions(multi: Any, where: str) -> list[RankableAction]:
    if not isinstance(multi, list) or not multi:
        raise _bad(f"{where}: c._multi must list the actions.", where)
    actions: list[RankableAction] = []
    for number, action in enumerate(multi, start=1):
        if not isinstance(action, dict):
            raise _bad(f"{where}: c._multi[{number - 1}] must be an object.", where)
        identity = action.get("_tag", action.get("id"))
        inner = action.get("i")
        if identity is None and isinstance(inner, dict):
            identity = inner.get("id")
        action_id = str(identity) if identity is not None else f"action-{number}"
        listed = action.get("j")
        if isinstance(listed, list) and all(isinstance(f, dict) for f in listed):
            features = listed
        else:
            features = [{k: v} for k, v in action.items() if not k.startswith("_") and k not in ("i", "id")]
        actions.append(RankableAction(id=action_id, features=features))
    return actions


def _event_id(item: dict[str, Any], where: str) -> str:
    event_id = item.get("EventId")
    if not isinstance(event_id, str) or not event_id:
        raise _bad(f"{where}: EventId must be a non-empty string.", where)
    return event_id


def _index(value: Any, size: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= size


def _probability(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 <= value <= 1
    )


def _bad(message: str, where: str) -> InvalidRequest:
    return InvalidRequest(message, code="InvalidRequest", target=where)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")

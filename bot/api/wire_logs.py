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

A multi-slot decision is Vowpal Wabbit's conditional contextual bandit DSJSON (what Personalizer's multi-slot
loops log): `c._slots` lists the slots (`_id` the slot ID, `_inc` the 0-based action positions it may take,
other fields its features), and `_outcomes` one entry per slot in the same order, `_a` the 0-based positions
open to the slot with the chosen one first, `_p` their probabilities, `_label_cost` the slot's label; `_ba`
gives each slot's baseline. A slot's reward arrives as an observation naming it: `{"EventId": "e1",
"Index": "main", "v": 1.0}`.
"""

from __future__ import annotations

import json
import math
from typing import Any

from bot.personalizer.base import InvalidRequest, RankableAction, RankRequest, SlotRequest
from bot.personalizer.local import (
    ImportedInteraction,
    ImportedMultiSlotInteraction,
    ImportedObservation,
    ImportedSlot,
)

MAX_LINES = 10_000


def interactions_from_body(body: bytes) -> list[ImportedInteraction | ImportedMultiSlotInteraction]:
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


def _interaction(item: dict[str, Any], number: int) -> ImportedInteraction | ImportedMultiSlotInteraction:
    where = f"line {number}"
    event_id = _event_id(item, where)
    context = item.get("c")
    if not isinstance(context, dict):
        raise _bad(f"{where}: c (the context and its _multi actions) must be an object.", where)
    if "_slots" in context:
        return _multislot_interaction(item, context, event_id, where)
    actions = _actions(context.get("_multi"), where)
    ranked, probabilities = item.get("a"), item.get("p")
    if not isinstance(ranked, list) or not ranked or not all(_index(i, len(actions)) for i in ranked):
        raise _bad(f"{where}: a must list action numbers 1..{len(actions)}, the chosen one first.", where)
    probabilities = _check_probabilities(probabilities, len(ranked), "p", "a", where)
    label_cost = _label_cost(item.get("_label_cost"), where)
    reward = None if label_cost is None else -label_cost
    request = RankRequest(
        context_features=_features(context),
        actions=actions,
        event_id=event_id,
        defer_activation=_deferred(item, where),
    )
    return ImportedInteraction(
        request=request, chosen_index=ranked[0] - 1, probability=float(probabilities[0]), reward=reward
    )


def _multislot_interaction(
    item: dict[str, Any], context: dict[str, Any], event_id: str, where: str
) -> ImportedMultiSlotInteraction:
    """A multi-slot decision (VW's CCB DSJSON): `c._slots` and one `_outcomes` entry per slot, whose `_a`
    lists 0-based positions in `c._multi` open to the slot, the chosen one first, with `_p` beside them."""
    actions = _actions(context.get("_multi"), where)
    slots, outcomes, baselines = context.get("_slots"), item.get("_outcomes"), item.get("_ba")
    if not isinstance(slots, list) or not slots:
        raise _bad(f"{where}: c._slots must list the slots.", where)
    if not isinstance(outcomes, list) or len(outcomes) != len(slots):
        raise _bad(f"{where}: _outcomes must give one outcome per slot of c._slots, in order.", where)
    count = len(actions)
    if baselines is not None and (
        not isinstance(baselines, list)
        or len(baselines) != len(slots)
        or not all(_position(b, count) for b in baselines)
    ):
        raise _bad(f"{where}: _ba must give each slot's baseline action, 0..{count - 1}.", where)
    ids = [action.id for action in actions]
    imported = []
    for k, (slot, outcome) in enumerate(zip(slots, outcomes, strict=True)):
        at = f"{where}: c._slots[{k}]"
        slot_id = slot.get("_id") if isinstance(slot, dict) else None
        if not isinstance(slot_id, str) or not slot_id:
            raise _bad(f"{at} must be an object whose _id (the slot ID) is a non-empty string.", where)
        if not isinstance(outcome, dict) or outcome.get("_id", slot_id) != slot_id:
            raise _bad(f"{where}: _outcomes[{k}] must be an object for slot {slot_id!r}.", where)
        included = slot.get("_inc")
        if included is not None and (
            not isinstance(included, list) or not included or not all(_position(i, count) for i in included)
        ):
            raise _bad(f"{at}._inc must list the action positions 0..{count - 1} the slot takes.", where)
        ranked = outcome.get("_a")
        if not isinstance(ranked, list) or not ranked or not all(_position(i, count) for i in ranked):
            raise _bad(f"{where}: _outcomes[{k}]._a must list positions 0..{count - 1}, chosen first.", where)
        chances = _check_probabilities(outcome.get("_p"), len(ranked), f"_outcomes[{k}]._p", "_a", where)
        label_cost = _label_cost(outcome.get("_label_cost"), where)
        # An empty _o: no observation joined, and the label is the exporter's default, not a reward.
        reward = None if label_cost is None or outcome.get("_o") == [] else -label_cost
        excluded = [] if included is None else [ids[i] for i in range(count) if i not in included]
        baseline = ids[baselines[k]] if baselines is not None else ids[ranked[0]]
        features = _features(slot)
        request = SlotRequest(slot_id, features, excluded_actions=excluded, baseline_action=baseline)
        imported.append(ImportedSlot(request, ranked[0], float(chances[0]), reward))
    return ImportedMultiSlotInteraction(
        context_features=_features(context),
        actions=actions,
        slots=imported,
        event_id=event_id,
        defer_activation=_deferred(item, where),
    )


def _features(container: dict[str, Any]) -> list[dict[str, Any]]:
    """The features of a DSJSON context or slot: every field not reserved (`_`-prefixed). A field holding a
    list of objects is a features list as Personalizer logs one (`"FromUrl": [{"weather": "sunny"}]`, a
    slot's `"sj": [...]`, as an action's `"j"`): its objects are the features."""
    features: list[dict[str, Any]] = []
    for key, value in container.items():
        if key.startswith("_"):
            continue
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            features.extend(value)
        else:
            features.append({key: value})
    return features


def _deferred(item: dict[str, Any], where: str) -> bool:
    defer = item.get("DeferredAction", False)
    if not isinstance(defer, bool):
        raise _bad(f"{where}: DeferredAction must be true or false.", where)
    return defer


def _check_probabilities(probabilities: Any, size: int, name: str, of: str, where: str) -> list[float]:
    if not isinstance(probabilities, list) or len(probabilities) != size:
        raise _bad(f"{where}: {name} must give one probability per entry of {of}.", where)
    if not all(_probability(p) for p in probabilities) or probabilities[0] <= 0:
        raise _bad(f"{where}: {name} must hold probabilities in 0..1, the chosen one above 0.", where)
    return probabilities


def _label_cost(label_cost: Any, where: str) -> float | None:
    if label_cost is None:
        return None
    if (
        isinstance(label_cost, bool)
        or not isinstance(label_cost, int | float)
        or not math.isfinite(label_cost)
    ):
        raise _bad(f"{where}: _label_cost must be a number.", where)
    return float(label_cost)


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
    slot_id = item.get("Index")
    if slot_id is not None and (not isinstance(slot_id, str) or not slot_id):
        raise _bad(f"{where}: Index, when given, must be the slot ID of a multi-slot event.", where)
    return ImportedObservation(event_id=event_id, value=float(value), slot_id=slot_id)


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


def _position(value: Any, size: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < size


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

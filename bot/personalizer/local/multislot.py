"""Pure: multi-slot ranks in Vowpal Wabbit's conditional contextual bandit terms (`--ccb_explore_adf`).

A multi-slot rank gives each slot an action of its own, slot after slot in the request's order. Each slot
is drawn from the policy's distribution over the actions still open to it (not excluded for the slot, not
taken by an earlier slot), with explorationPercentage mixed in as for single-slot ranks, and a uniform
number derived from the event ID and the slot ID: the same event ID gives the same assignment. The VW
example that predicts slot k names the actions drawn for the earlier slots as those slots' only actions,
so the model sees the situation the draw was made in; training labels every slot the same way.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.personalizer.base import (
    InvalidRequest,
    MultiSlotRankRequest,
    MultiSlotRankResult,
    RankRequest,
    SlotResult,
)
from bot.personalizer.local.features import FeatureError, namespaces_line
from bot.personalizer.local.policy import Policy
from bot.personalizer.local.ranking import event_row, explore, new_event_id
from bot.personalizer.local.settings import LoopSettings
from bot.personalizer.local.validation import check_id, featurize_request

SLOT = "S"
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)
Predict = Callable[[list[str]], list[list[tuple[int, float]]]]


@dataclass(frozen=True)
class Slot:
    """A validated slot: its ID, features (JSON and VW line), the positions open to it, and its baseline."""

    id: str
    features: list[dict[str, Any]]
    line: str
    allowed: tuple[int, ...]
    baseline: int


@dataclass(frozen=True)
class Draw:
    """One slot's outcome: the action position chosen, its probability, and the positions it was drawn from."""

    chosen: int
    probability: float
    open_to: tuple[int, ...]


@dataclass
class MultiSlotDecision:
    """A multi-slot rank decided: the event row to log and the answer to give once it is logged."""

    row: dict[str, Any]
    result: MultiSlotRankResult


def decide_multislot(
    request: MultiSlotRankRequest, settings: LoopSettings, policy: Policy | None, now: float
) -> MultiSlotDecision:
    """Validate, draw every slot (uniform before the first model), build the event row and the answer.
    Apprentice and LoggingOnly answer each slot's baseline; the model's own draws are logged beside them."""
    single = RankRequest(
        request.context_features, request.actions, [], request.event_id, request.defer_activation
    )
    featurized = featurize_request(single, settings.max_actions, settings.policy)
    ids = [action.id for action in request.actions]
    slots = check_slots(request.slots, ids)
    actions = featurized.id_lines if policy is not None and policy.action_ids else featurized.lines
    event_id = request.event_id or new_event_id()

    def mix(pmf: list[float]) -> list[float]:
        return explore(pmf, settings.exploration_percentage) if policy is not None and policy.mixes else pmf

    model = draw_slots(
        event_id, featurized.shared, actions, slots, policy.predict_slots if policy else None, mix
    )
    served = (
        model if settings.learning_mode == "Online" else [Draw(s.baseline, 1.0, s.allowed) for s in slots]
    )
    first, first_model = served[0], model[0]
    row = event_row(
        event_id=event_id,
        ranked_at=now,
        deadline=now + settings.reward_wait_time,
        context=featurized.context_json,
        actions=featurized.actions_json,
        excluded="[]",
        chosen_id=ids[first.chosen],
        probability=first.probability,
        mode=settings.learning_mode,
        baseline_id=ids[slots[0].baseline],
        model_choice_id=ids[first_model.chosen],
        model_probability=first_model.probability,
        deferred=request.defer_activation,
        slots=slots_json(slots, served, model),
    )
    answer = [SlotResult(slot.id, ids[draw.chosen]) for slot, draw in zip(slots, served, strict=True)]
    return MultiSlotDecision(row, MultiSlotRankResult(event_id=event_id, slots=answer))


def check_slots(slots: Any, action_ids: Sequence[str]) -> list[Slot]:
    """Validate the request's slots against its actions; InvalidRequest names what is wrong."""
    if not isinstance(slots, list) or not slots:
        raise InvalidRequest(
            "At least one slot must be defined in a multi-slot rank request.", target="slots"
        )
    if len(slots) > len(action_ids):
        raise InvalidRequest("Slots count should be between 1 and the number of actions.", target="slots")
    position = {action_id: i for i, action_id in enumerate(action_ids)}
    seen: set[str] = set()
    baselines: set[int] = set()
    checked: list[Slot] = []
    for index, slot in enumerate(slots):
        where = f"slots[{index}]"
        slot_id = check_id(getattr(slot, "id", None), f"{where}.id")
        if slot_id in seen:
            raise InvalidRequest(
                f"Duplicate slot ID {slot_id!r}: slot IDs must be unique.", target=f"{where}.id"
            )
        seen.add(slot_id)
        features = getattr(slot, "features", None) or []
        try:
            line = namespaces_line(features, SLOT, f"{where}.features")
            _ENCODER.encode(features)
        except (FeatureError, TypeError, ValueError) as exc:
            raise InvalidRequest(
                f"Invalid features of slot {slot_id!r}: {exc}", target=f"{where}.features"
            ) from None
        excluded = _excluded(slot, where, position)
        allowed = tuple(i for i in range(len(action_ids)) if i not in excluded)
        if not allowed:
            raise InvalidRequest(
                f"Every action is excluded from slot {slot_id!r}.", target=f"{where}.excludedActions"
            )
        baseline = _baseline(slot, where, position, excluded, allowed)
        if baseline in baselines:
            raise InvalidRequest(
                "Each slot must contain a unique baselineAction.", target=f"{where}.baselineAction"
            )
        baselines.add(baseline)
        checked.append(Slot(slot_id, features, line, allowed, baseline))
    return checked


def _excluded(slot: Any, where: str, position: dict[str, int]) -> set[int]:
    excluded = getattr(slot, "excluded_actions", None) or []
    if not isinstance(excluded, list):
        raise InvalidRequest(
            "excludedActions must be a list of action IDs.", target=f"{where}.excludedActions"
        )
    found: set[int] = set()
    for k, action_id in enumerate(excluded):
        target = f"{where}.excludedActions[{k}]"
        if check_id(action_id, target) not in position:
            raise InvalidRequest(f"Excluded action {action_id!r} is not one of the actions.", target=target)
        found.add(position[action_id])
    return found


def _baseline(
    slot: Any, where: str, position: dict[str, int], excluded: set[int], allowed: tuple[int, ...]
) -> int:
    """The slot's baseline position; without one, its first open action (as single-slot ranks have)."""
    baseline_id = getattr(slot, "baseline_action", None)
    if baseline_id is None:
        return allowed[0]
    target = f"{where}.baselineAction"
    if check_id(baseline_id, target) not in position:
        raise InvalidRequest(f"baselineAction {baseline_id!r} is not one of the actions.", target=target)
    if position[baseline_id] in excluded:
        raise InvalidRequest("baselineAction cannot be one of the slot's excludedActions.", target=target)
    return position[baseline_id]


def draw_slots(
    event_id: str,
    shared: str,
    actions: Sequence[str],
    slots: Sequence[Slot],
    predict: Predict | None,
    mix: Callable[[list[float]], list[float]],
) -> list[Draw]:
    """Assign an action to every slot in order: predict (None: uniform), mix in exploration, draw."""
    draws: list[Draw] = []
    taken: set[int] = set()
    for index, slot in enumerate(slots):
        open_to = tuple(i for i in slot.allowed if i not in taken)
        if not open_to:
            raise InvalidRequest(
                f"No action is left for slot {slot.id!r}: the slots before it took every action it allows.",
                target="slots",
            )
        pmf = [1.0 / len(open_to)] * len(open_to)
        if predict is not None:
            lines = [slot_line(s.line, (d.chosen,)) for s, d in zip(slots, draws, strict=False)]
            lines.append(slot_line(slot.line, open_to))
            scores = dict(predict(example(shared, actions, lines))[index])
            pmf = normalised([float(scores.get(i, 0.0)) for i in open_to])
        pmf = mix(pmf)
        pick = sample(pmf, uniform(event_id, slot.id))
        draws.append(Draw(open_to[pick], pmf[pick], open_to))
        taken.add(open_to[pick])
    return draws


def example(shared: str, actions: Sequence[str], slots: Sequence[str]) -> list[str]:
    """A CCB example from the single-slot shared line (`shared |C ...`), the action lines and slot lines."""
    return [f"ccb {shared}", *(f"ccb action {line}" for line in actions), *slots]


def slot_line(line: str, open_to: Sequence[int], label: str = "") -> str:
    """One slot's line: its label (`chosen:cost:probability`, or none), the positions open to it, features."""
    head = f"ccb slot {label} " if label else "ccb slot "
    return head + ",".join(str(i) for i in open_to) + " " + line


def slots_json(slots: Sequence[Slot], served: Sequence[Draw], model: Sequence[Draw]) -> str:
    """The event log's record of the slots: features, baseline, the draw served and the model's own."""
    return _ENCODER.encode(
        [
            {
                "id": slot.id,
                "features": slot.features,
                "baseline": slot.baseline,
                "chosen": draw.chosen,
                "probability": draw.probability,
                "open_to": list(draw.open_to),
                "model_choice": own.chosen,
                "model_probability": own.probability,
                "model_open_to": list(own.open_to),
            }
            for slot, draw, own in zip(slots, served, model, strict=True)
        ]
    )


def training_example(
    mode: str, shared: str, actions: Sequence[str], slots: list[dict[str, Any]], values: dict[str, float]
) -> list[str] | None:
    """The labelled CCB example of one logged multi-slot event (values: each slot's reward), or None.

    Online learns each slot's served action at its logged probability (cost -reward); Apprentice learns the
    model's own draws, rewarded 1 where they were the slot's baseline; LoggingOnly learns nothing.
    """
    if mode not in ("Online", "Apprentice"):
        return None
    lines = []
    for slot in slots:
        features = namespaces_line(slot["features"], SLOT, "slot")
        if mode == "Online":
            chosen, cost, probability = slot["chosen"], -values[slot["id"]], slot["probability"]
            open_to = slot["open_to"]
        else:
            chosen, probability, open_to = (
                slot["model_choice"],
                slot["model_probability"],
                slot["model_open_to"],
            )
            cost = -1.0 if chosen == slot["baseline"] else 0.0
        lines.append(slot_line(features, open_to, f"{chosen}:{cost!r}:{probability!r}"))
    return example(shared, actions, lines)


def normalised(pmf: list[float]) -> list[float]:
    """pmf scaled to sum to 1; uniform when it makes no distribution (negative, not finite, all zero)."""
    total = sum(pmf)
    if not all(p >= 0.0 for p in pmf) or not 0.0 < total < float("inf"):
        return [1.0 / len(pmf)] * len(pmf)
    return [p / total for p in pmf]


def uniform(event_id: str, slot_id: str) -> float:
    """A number in [0, 1) from the event and slot IDs: the same pair always gives the same number."""
    digest = hashlib.sha256(f"{event_id}\x00{slot_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def sample(pmf: Sequence[float], point: float) -> int:
    """The index whose cumulative probability first exceeds point."""
    cumulative = 0.0
    for index, probability in enumerate(pmf):
        cumulative += probability
        if point < cumulative:
            return index
    return max(i for i, p in enumerate(pmf) if p > 0)

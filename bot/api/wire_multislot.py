"""Multi-slot JSON (v1.1-preview.1 on) <-> the port's multi-slot values. camelCase stays here.

Request: {contextFeatures?, actions, slots: [{id, baselineAction, features?, excludedActions?}], eventId?,
deferActivation?}; answer 201 {slots: [{id, rewardActionId}], eventId}. Reward: {reward: [{slotId, value}]}.
"""

from __future__ import annotations

import math
from typing import Any

from bot.personalizer.base import (
    InvalidRequest,
    MultiSlotRankRequest,
    MultiSlotRankResult,
    SlotRequest,
    SlotReward,
)

MAX_SLOTS = 50
MAX_ID_LENGTH = 256


def multislot_request_from_json(body: Any, actions_from_json: Any) -> MultiSlotRankRequest:
    """A MultiSlotRankRequest, or InvalidRequest naming the field (actions read as single-slot rank does)."""
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a multi-slot rank request object.", target="body")
    single = actions_from_json({k: v for k, v in body.items() if k != "slots"})
    slots_json = body.get("slots")
    if not isinstance(slots_json, list) or not slots_json:
        raise InvalidRequest("slots is required: a non-empty array of slots.", target="slots")
    if len(slots_json) > MAX_SLOTS:
        raise InvalidRequest(f"At most {MAX_SLOTS} slots are allowed.", target="slots")
    slots = [_slot(slot, f"slots[{index}]") for index, slot in enumerate(slots_json)]
    return MultiSlotRankRequest(
        context_features=single.context_features,
        actions=single.actions,
        slots=slots,
        event_id=single.event_id,
        defer_activation=single.defer_activation,
    )


def multislot_result_to_json(result: MultiSlotRankResult) -> dict[str, Any]:
    """Personalizer's MultiSlotRankResponse."""
    return {
        "slots": [{"id": slot.id, "rewardActionId": slot.reward_action_id} for slot in result.slots],
        "eventId": result.event_id,
    }


def slot_rewards_from_json(body: Any) -> list[SlotReward]:
    """The slot rewards of a MultiSlotRewardRequest."""
    if not isinstance(body, dict):
        raise InvalidRequest('The body must be {"reward": [{"slotId", "value"}]}.', target="body")
    rewards = body.get("reward")
    if not isinstance(rewards, list) or not rewards:
        raise InvalidRequest("reward is required: an array of {slotId, value}.", target="reward")
    found: list[SlotReward] = []
    for index, item in enumerate(rewards):
        where = f"reward[{index}]"
        if not isinstance(item, dict):
            raise InvalidRequest(f"{where} must be an object.", target=where)
        slot_id = _id(item.get("slotId"), f"{where}.slotId")
        value = item.get("value")
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise InvalidRequest(f"{where}.value must be a number between -1 and 1.", target=f"{where}.value")
        found.append(SlotReward(slot_id=slot_id, value=float(value)))
    return found


def _slot(slot: Any, where: str) -> SlotRequest:
    if not isinstance(slot, dict):
        raise InvalidRequest(f"{where} must be an object.", target=where)
    slot_id = _id(slot.get("id"), f"{where}.id")
    baseline = _id(slot.get("baselineAction"), f"{where}.baselineAction")
    features = slot.get("features")
    if features is None:
        features = []
    if not isinstance(features, list) or not all(isinstance(f, dict) for f in features):
        raise InvalidRequest(f"{where}.features must be an array of objects.", target=f"{where}.features")
    excluded = slot.get("excludedActions")
    if excluded is None:
        excluded = []
    if not isinstance(excluded, list):
        raise InvalidRequest(
            f"{where}.excludedActions must be an array of ids.", target=f"{where}.excludedActions"
        )
    excluded = [_id(e, f"{where}.excludedActions[{i}]") for i, e in enumerate(excluded)]
    return SlotRequest(id=slot_id, baseline_action=baseline, features=features, excluded_actions=excluded)


def _id(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"{where} must be a non-empty string.", target=where)
    if len(value) > MAX_ID_LENGTH:
        raise InvalidRequest(f"{where} must be at most {MAX_ID_LENGTH} characters.", target=where)
    return value

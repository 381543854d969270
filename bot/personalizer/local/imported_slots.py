"""Imported multi-slot decisions: another system's slot choices, logged as a multi-slot rank logs its own.

Each slot's row entry is what `decide_multislot` writes (multislot.slots_json): the positions open to the
slot are the ones it includes minus those the earlier slots took, and the logged choice and probability are
both the served draw and the model's own, so the trainer learns the event once, by slot ID, as it learns a
rank's (Online: another system chose).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot.personalizer.base import InvalidRequest, RankableAction, RankRequest, SlotRequest
from bot.personalizer.local.multislot import Draw, check_slots, slots_json
from bot.personalizer.local.ranking import event_row
from bot.personalizer.local.settings import LoopSettings
from bot.personalizer.local.validation import check_id, featurize_request

_ENCODER = json.JSONEncoder(separators=(",", ":"))


@dataclass(frozen=True)
class ImportedSlot:
    """One slot of an imported decision: its request (features, exclusions, baseline) and what was chosen."""

    request: SlotRequest
    chosen_index: int  # into the decision's actions
    probability: float
    reward: float | None = None  # when the log line carried the slot's label


@dataclass(frozen=True)
class ImportedMultiSlotInteraction:
    """A multi-slot decision another system made: context, actions, and each slot's choice."""

    context_features: list[dict[str, Any]]
    actions: list[RankableAction]
    slots: list[ImportedSlot]
    event_id: str
    defer_activation: bool = False


def multislot_event_row(
    interaction: ImportedMultiSlotInteraction, settings: LoopSettings, now: float
) -> dict[str, Any]:
    """Validate an imported multi-slot decision as a multi-slot rank is validated; its event row."""
    check_id(interaction.event_id, "EventId")
    single = RankRequest(
        interaction.context_features,
        interaction.actions,
        [],
        interaction.event_id,
        interaction.defer_activation,
    )
    featurized = featurize_request(single, settings.max_actions, settings.policy)
    ids = [action.id for action in interaction.actions]
    slots = check_slots([slot.request for slot in interaction.slots], ids)
    draws: list[Draw] = []
    taken: set[int] = set()
    for slot, imported in zip(slots, interaction.slots, strict=True):
        open_to = tuple(i for i in slot.allowed if i not in taken)
        if imported.chosen_index not in open_to:
            raise InvalidRequest(
                f"Slot {slot.id!r} chose an action it excludes or an earlier slot took.", target="_a"
            )
        if not 0.0 < imported.probability <= 1.0:
            raise InvalidRequest(f"Slot {slot.id!r}: the chosen action's probability must be in (0, 1].")
        draws.append(Draw(imported.chosen_index, imported.probability, open_to))
        taken.add(imported.chosen_index)
    first = draws[0]
    return event_row(
        event_id=interaction.event_id,
        ranked_at=now,  # as for single-slot imports: joined within rewardWaitTime from its arrival
        deadline=now + settings.reward_wait_time,
        context=featurized.context_json,
        actions=featurized.actions_json,
        excluded=_ENCODER.encode([]),
        chosen_id=ids[first.chosen],
        probability=first.probability,
        mode="Online",
        baseline_id=ids[slots[0].baseline],
        model_choice_id=ids[first.chosen],
        model_probability=first.probability,
        deferred=interaction.defer_activation,
        slots=slots_json(slots, draws, draws),
    )


def slot_rewards(interaction: ImportedMultiSlotInteraction) -> list[tuple[str, float]]:
    """The slot rewards the log line carried, clamped to Personalizer's range."""
    return [
        (slot.request.id, max(-1.0, min(1.0, slot.reward)))
        for slot in interaction.slots
        if slot.reward is not None
    ]

"""Logs from elsewhere: another system's decisions and rewards, written into the event log as ranks are.

An imported decision becomes an event row exactly like one Rank logs (context, actions, the chosen action
and the probability it was chosen with), ranked at the moment it arrives, so it joins its rewards within
rewardWaitTime and is learned, or given the default reward, by the same trainer. Its own timestamp is not
used: a decision logged days ago would otherwise be settled with the default reward before its
observations could arrive. A multi-slot decision becomes the row a multi-slot rank logs (imported_slots.py),
and its slots' rewards are kept by slot ID as multi-slot rewards are (slot_store.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.personalizer.base import EventNotFound, InvalidRequest, RankerUnavailable, RankRequest
from bot.personalizer.local.eventlog import EventLog
from bot.personalizer.local.eventlog.batch import EventIdTaken
from bot.personalizer.local.imported_slots import (
    ImportedMultiSlotInteraction,
    multislot_event_row,
    slot_rewards,
)
from bot.personalizer.local.policy import is_multislot
from bot.personalizer.local.ranking import event_row
from bot.personalizer.local.settings import LoopSettings
from bot.personalizer.local.slot_store import add_slot_rewards, event_slots
from bot.personalizer.local.validation import check_id, featurize_request

logger = logging.getLogger(__name__)

_ENCODER = json.JSONEncoder(separators=(",", ":"))


@dataclass(frozen=True)
class ImportedInteraction:
    """One decision another system made: the request it ranked, what it chose, with what probability."""

    request: RankRequest
    chosen_index: int  # into request.actions
    probability: float
    reward: float | None = None  # when the log line carried its reward (an exported, joined log)


@dataclass(frozen=True)
class ImportedObservation:
    """A reward (value) or, with value None, an activation, for an imported or ranked event; a multi-slot
    event's reward names its slot."""

    event_id: str
    value: float | None
    slot_id: str | None = None


@dataclass(frozen=True)
class ImportTarget:
    """Where imports are written: the loop's event log, its settings in force, and its slot rewards."""

    events: EventLog
    engine: Engine
    settings: LoopSettings
    lock: Callable[[], AbstractContextManager[None]]

    def add_slot_rewards(self, event_id: str, values: list[tuple[str, float]], at: float) -> bool:
        """Keep slot rewards of a multi-slot event (slot_store); False when it is not logged."""
        try:
            return add_slot_rewards(self.engine, event_id, values, at, self.lock)
        except SQLAlchemyError:
            raise RankerUnavailable("the event log could not be written") from None


@dataclass(frozen=True)
class ImportSummary:
    """How many lines were written, and how many were skipped (event ID already logged, or no such event)."""

    written: int
    skipped: int


def imported_event_row(
    interaction: ImportedInteraction,
    context_json: str,
    actions_json: str,
    now: float,
    reward_wait_time: float,
) -> dict[str, Any]:
    """The event log's row for an imported decision (the same columns a rank writes)."""
    request = interaction.request
    chosen = request.actions[interaction.chosen_index]
    return event_row(
        event_id=request.event_id,
        ranked_at=now,
        deadline=now + reward_wait_time,
        context=context_json,
        actions=actions_json,
        excluded=_ENCODER.encode([]),
        chosen_id=chosen.id,
        probability=interaction.probability,
        # Learned as logged bandit data, whatever the loop's own learning mode: the other system chose.
        mode="Online",
        baseline_id=request.actions[0].id,
        model_choice_id=chosen.id,
        model_probability=interaction.probability,
        deferred=request.defer_activation,
    )


def check_interaction(interaction: ImportedInteraction, settings: LoopSettings) -> tuple[str, str]:
    """Validate a decision as a rank is validated; (context JSON, actions JSON) for its row."""
    request = interaction.request
    if request.event_id is None:
        raise InvalidRequest("An imported decision needs its EventId.", target="EventId")
    check_id(request.event_id, "EventId")
    featurized = featurize_request(request, settings.max_actions)
    if not 0 <= interaction.chosen_index < len(request.actions):
        raise InvalidRequest("The chosen action is not among the actions.", target="a")
    if not 0.0 < interaction.probability <= 1.0:
        raise InvalidRequest("The chosen action's probability must be in (0, 1].", target="p")
    return featurized.context_json, featurized.actions_json


async def import_interactions(
    target: ImportTarget, interactions: list[ImportedInteraction | ImportedMultiSlotInteraction], now: float
) -> ImportSummary:
    """Validate every decision first (a bad line writes nothing), then write them in shared group commits."""
    settings = target.settings
    check_policy_takes(interactions, settings)
    rows = [
        multislot_event_row(i, settings, now)
        if isinstance(i, ImportedMultiSlotInteraction)
        else imported_event_row(i, *check_interaction(i, settings), now, settings.reward_wait_time)
        for i in interactions
    ]
    outcomes = await asyncio.gather(
        *(target.events.log_event_async(row) for row in rows), return_exceptions=True
    )
    written = _count(outcomes, EventIdTaken)
    logged = [i for i, outcome in zip(interactions, outcomes, strict=True) if outcome is None]
    rewards = [
        target.events.log_reward_async(str(i.request.event_id), _clamped(i.reward), now)
        for i in logged
        if isinstance(i, ImportedInteraction) and i.reward is not None
    ]
    reward_outcomes = await asyncio.gather(*rewards, return_exceptions=True)
    _count(reward_outcomes, EventNotFound)
    for i in logged:
        if isinstance(i, ImportedMultiSlotInteraction) and slot_rewards(i):
            await asyncio.to_thread(target.add_slot_rewards, i.event_id, slot_rewards(i), now)
    summary = ImportSummary(written=written, skipped=len(rows) - written)
    logger.info("imported %d decisions (%d already logged)", summary.written, summary.skipped)
    return summary


def check_policy_takes(
    interactions: list[ImportedInteraction | ImportedMultiSlotInteraction], settings: LoopSettings
) -> None:
    """Multi-slot decisions only on a multi-slot loop, single-slot ones only on a single-slot loop: the
    refusals multi-slot and single-slot ranks get."""
    multislot = is_multislot(settings.policy)
    if not multislot and any(isinstance(i, ImportedMultiSlotInteraction) for i in interactions):
        raise InvalidRequest(
            "Multi-slot decisions need a multi-slot policy: set one with --ccb_explore_adf "
            "(PUT /configurations/policy).",
            code="InvalidMultiSlotApiAccess",
        )
    if multislot and any(isinstance(i, ImportedInteraction) for i in interactions):
        raise InvalidRequest(
            "This loop ranks slots (its policy has --ccb_explore_adf): import multi-slot decisions, "
            "or set a single-slot policy (--cb_explore_adf)."
        )


async def import_observations(
    target: ImportTarget, observations: list[ImportedObservation], now: float
) -> ImportSummary:
    """Write every reward and activation; those for events never logged are skipped. A reward that does
    not fit its event (no slot ID for a multi-slot event, or one for a single-slot event) writes nothing."""
    for observation in observations:
        check_id(observation.event_id, "EventId")
        if observation.slot_id is not None:
            check_id(observation.slot_id, "Index")
        if observation.value is not None and not -1.0 <= observation.value <= 1.0:
            raise InvalidRequest("v must be between -1 and 1.", target="v")
    rewarded = [o.event_id for o in observations if o.value is not None]
    slots = await asyncio.to_thread(event_slots, target.engine, rewarded) if rewarded else {}
    by_slot: dict[str, list[tuple[str, float]]] = {}
    plain: list[ImportedObservation] = []
    for o in observations:
        if o.value is not None and o.event_id not in slots:
            continue  # never logged: skipped, as a reward for an unknown event is
        if o.value is not None and (o.slot_id is not None or slots[o.event_id] is not None):
            _check_fits(o, slots[o.event_id])
            by_slot.setdefault(o.event_id, []).append((str(o.slot_id), o.value))
        else:
            plain.append(o)
    outcomes = await asyncio.gather(
        *(
            target.events.log_activation_async(o.event_id, now)
            if o.value is None
            else target.events.log_reward_async(o.event_id, o.value, now)
            for o in plain
        ),
        return_exceptions=True,
    )
    written = _count(outcomes, EventNotFound)
    for event_id, values in by_slot.items():
        if await asyncio.to_thread(target.add_slot_rewards, event_id, values, now):
            written += len(values)
    summary = ImportSummary(written=written, skipped=len(observations) - written)
    logger.info("imported %d observations (%d for events never logged)", summary.written, summary.skipped)
    return summary


def _check_fits(observation: ImportedObservation, slot_ids: set[str] | None) -> None:
    event_id, slot_id = observation.event_id, observation.slot_id
    if slot_ids is None:
        raise InvalidRequest(
            f"Event {event_id!r} was ranked without slots: send its reward without Index.", target="Index"
        )
    if slot_id is None:
        raise InvalidRequest(
            f"Event {event_id!r} was ranked with slots: name the slot of each reward with Index "
            "(its slot ID).",
            target="Index",
        )
    if slot_id not in slot_ids:
        raise InvalidRequest(f"{slot_id!r} is not a slot of event {event_id!r}.", target="Index")


def _count(outcomes: list[Any], skippable: type[Exception]) -> int:
    """How many succeeded; re-raise the first failure that is not a skip (503, ...)."""
    for outcome in outcomes:
        if isinstance(outcome, BaseException) and not isinstance(outcome, skippable):
            raise outcome
    return sum(1 for outcome in outcomes if outcome is None)


def _clamped(value: float) -> float:
    return max(-1.0, min(1.0, value))

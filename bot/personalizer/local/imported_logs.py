"""Logs from elsewhere: another system's decisions and rewards, written into the event log as ranks are.

An imported decision becomes an event row exactly like one Rank logs (context, actions, the chosen action
and the probability it was chosen with), ranked at the moment it arrives, so it joins its rewards within
rewardWaitTime and is learned, or given the default reward, by the same trainer. Its own timestamp is not
used: a decision logged days ago would otherwise be settled with the default reward before its
observations could arrive.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

from bot.personalizer.base import EventNotFound, InvalidRequest, RankRequest
from bot.personalizer.local.eventlog import EventLog
from bot.personalizer.local.eventlog.batch import EventIdTaken
from bot.personalizer.local.ranking import event_row
from bot.personalizer.local.settings import LoopSettings
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
    """A reward (value) or, with value None, an activation, for an imported or ranked event."""

    event_id: str
    value: float | None


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
    events: EventLog, interactions: list[ImportedInteraction], settings: LoopSettings, now: float
) -> ImportSummary:
    """Validate every decision first (a bad line writes nothing), then write them in shared group commits."""
    rows = []
    for interaction in interactions:
        context_json, actions_json = check_interaction(interaction, settings)
        rows.append(
            imported_event_row(interaction, context_json, actions_json, now, settings.reward_wait_time)
        )
    outcomes = await asyncio.gather(*(events.log_event_async(row) for row in rows), return_exceptions=True)
    written = _count(outcomes, EventIdTaken)
    rewards = [
        (i.request.event_id, i.reward)
        for i, outcome in zip(interactions, outcomes, strict=True)
        if outcome is None and i.reward is not None
    ]
    reward_outcomes = await asyncio.gather(
        *(events.log_reward_async(str(event_id), _clamped(value), now) for event_id, value in rewards),
        return_exceptions=True,
    )
    _count(reward_outcomes, EventNotFound)
    summary = ImportSummary(written=written, skipped=len(rows) - written)
    logger.info("imported %d decisions (%d already logged)", summary.written, summary.skipped)
    return summary


async def import_observations(
    events: EventLog, observations: list[ImportedObservation], now: float
) -> ImportSummary:
    """Write every reward and activation; those for events never logged are skipped."""
    for observation in observations:
        check_id(observation.event_id, "EventId")
        if observation.value is not None and not -1.0 <= observation.value <= 1.0:
            raise InvalidRequest("v must be between -1 and 1.", target="v")
    outcomes = await asyncio.gather(
        *(
            events.log_activation_async(o.event_id, now)
            if o.value is None
            else events.log_reward_async(o.event_id, o.value, now)
            for o in observations
        ),
        return_exceptions=True,
    )
    written = _count(outcomes, EventNotFound)
    summary = ImportSummary(written=written, skipped=len(observations) - written)
    logger.info("imported %d observations (%d for events never logged)", summary.written, summary.skipped)
    return summary


def _count(outcomes: list[Any], skippable: type[Exception]) -> int:
    """How many succeeded; re-raise the first failure that is not a skip (503, ...)."""
    for outcome in outcomes:
        if isinstance(outcome, BaseException) and not isinstance(outcome, skippable):
            raise outcome
    return sum(1 for outcome in outcomes if outcome is None)


def _clamped(value: float) -> float:
    return max(-1.0, min(1.0, value))

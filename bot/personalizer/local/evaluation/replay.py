"""Counterfactual replay: every evaluated policy meets the logged events in order, as it would have online.

A learning policy (VW arguments) predicts a distribution for each event from what it learned before it,
is scored on the logged action with that probability, then learns the event (progressive validation, the
way Personalizer's offline evaluation trained each candidate on the log). The online policy is scored
with the logged probabilities themselves (weight 1: the rewards it earned), the baseline always takes
the first action, random picks uniformly.

A multi-slot event is scored slot by slot: for each slot, the policy's probability of the action logged for
it, given the actions logged for the slots before it (as the rank drew them, slot after slot). Each slot
gets its own series (its reward, weighted by that probability over the logged one); the overall series
weighs the event's summed reward by the product of the slots' weights (the whole assignment's).
A learning policy plays a multi-slot log as Vowpal Wabbit's conditional contextual bandit
(`--ccb_explore_adf` in place of `--cb_explore_adf`). Policies with `--action_id_feature` see the actions'
IDs as features; explorationPercentage is mixed into the distribution of those that explore by themselves,
as the online ranks do.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bot.personalizer.local.evaluation.logs import LoggedEvent, LoggedSlot
from bot.personalizer.local.evaluation.offpolicy import Series
from bot.personalizer.local.features import with_id
from bot.personalizer.local.multislot import example, normalised, slot_line
from bot.personalizer.local.policy import (
    MULTISLOT_OPTION,
    Policy,
    effective_arguments,
    explores_itself,
    uses_action_ids,
)
from bot.personalizer.local.ranking import explore

ONLINE, BASELINE, RANDOM, CUSTOM, DISCOVERED = (
    "Online",
    "Baseline",
    "Random",
    "Custom",
    "OfflineExperimentation",
)
BUCKET_SECONDS = 300  # Personalizer's 5-minute intervals; longer intervals are sums of these


@dataclass(frozen=True)
class Candidate:
    """A policy to evaluate: its name, where it came from, and VW arguments (learning policies only)."""

    name: str
    source: str
    arguments: str = ""


class _Scorer:
    """Gives each event the evaluated policy's probability of the logged action (of each slot's)."""

    def probability(self, event: LoggedEvent, lines: list[str]) -> float:
        raise NotImplementedError

    def slot_probabilities(self, event: LoggedEvent, lines: list[str]) -> list[float]:
        return [self.slot_probability(slot) for slot in event.slots]

    def slot_probability(self, slot: LoggedSlot) -> float:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the scorer holds."""


class _Online(_Scorer):
    def probability(self, event: LoggedEvent, lines: list[str]) -> float:
        return event.probability

    def slot_probability(self, slot: LoggedSlot) -> float:
        return slot.probability


class _Baseline(_Scorer):
    def probability(self, event: LoggedEvent, lines: list[str]) -> float:
        return 1.0 if event.chosen == 0 else 0.0

    def slot_probability(self, slot: LoggedSlot) -> float:
        return 1.0 if slot.chosen == slot.baseline else 0.0


class _Random(_Scorer):
    def probability(self, event: LoggedEvent, lines: list[str]) -> float:
        return 1.0 / len(event.action_ids)

    def slot_probability(self, slot: LoggedSlot) -> float:
        return 1.0 / len(slot.open_to)


class _Learning(_Scorer):
    """A VW policy learning as it goes: an ADF workspace for one-slot events, a CCB one for multi-slot."""

    def __init__(self, arguments: str, exploration: float) -> None:
        self._arguments = arguments
        self._exploration = exploration
        self._ids = uses_action_ids(arguments)
        self._mix = explores_itself(arguments)
        self._single: Policy | None = None
        self._multi: Policy | None = None

    def _actions(self, event: LoggedEvent, lines: list[str]) -> list[str]:
        actions = lines[1:]
        if self._ids:
            actions = [with_id(i, line) for i, line in zip(event.action_ids, actions, strict=True)]
        return actions

    def _mixed(self, pmf: list[float]) -> list[float]:
        return explore(pmf, self._exploration) if self._mix else pmf

    def probability(self, event: LoggedEvent, lines: list[str]) -> float:
        if self._single is None:
            self._single = Policy(effective_arguments(self._arguments, self._exploration))
        actions = self._actions(event, lines)
        pmf = self._single.predict([lines[0], *actions])
        total = sum(p for p in pmf if math.isfinite(p) and p > 0)
        chosen = pmf[event.chosen] if len(pmf) == len(event.action_ids) else 0.0
        if total > 0 and math.isfinite(chosen):
            p_pred = self._mixed([p / total if math.isfinite(p) and p > 0 else 0.0 for p in pmf])[
                event.chosen
            ]
        else:
            p_pred = 1.0 / len(event.action_ids)
        actions[event.chosen] = f"0:{-event.reward!r}:{event.probability!r} {actions[event.chosen]}"
        self._single.learn([lines[0], *actions])
        return p_pred

    def slot_probabilities(self, event: LoggedEvent, lines: list[str]) -> list[float]:
        if self._multi is None:
            self._multi = Policy(effective_arguments(multislot_arguments(self._arguments), self._exploration))
        actions = self._actions(event, lines)
        out = []
        for index, slot in enumerate(event.slots):
            before = [slot_line(s.line, (s.chosen,)) for s in event.slots[:index]]
            scores = dict(
                self._multi.predict_slots(
                    example(lines[0], actions, [*before, slot_line(slot.line, slot.open_to)])
                )[index]
            )
            pmf = self._mixed(normalised([float(scores.get(i, 0.0)) for i in slot.open_to]))
            out.append(pmf[slot.open_to.index(slot.chosen)])
        labelled = [
            slot_line(s.line, s.open_to, f"{s.chosen}:{-s.reward!r}:{s.probability!r}") for s in event.slots
        ]
        self._multi.learn(example(lines[0], actions, labelled))
        return out

    def close(self) -> None:
        for policy in (self._single, self._multi):
            if policy is not None:
                policy.close()


def multislot_arguments(arguments: str) -> str:
    """The policy's arguments for multi-slot events: the CCB reduction in place of the ADF one."""
    words = arguments.split()
    if MULTISLOT_OPTION in words:
        return arguments
    return " ".join(MULTISLOT_OPTION if w == "--cb_explore_adf" else w for w in words)


def scorer_for(candidate: Candidate, exploration: float) -> _Scorer:
    """The scorer that plays this candidate."""
    if candidate.source == ONLINE:
        return _Online()
    if candidate.source == BASELINE:
        return _Baseline()
    if candidate.source == RANDOM:
        return _Random()
    return _Learning(candidate.arguments, exploration)


@dataclass
class Played:
    """A candidate's series over the events (overall), and one per slot ID of the multi-slot events."""

    total: Series
    slots: dict[str, Series]


def replay(
    events: Iterable[LoggedEvent],
    candidates: list[Candidate],
    exploration: float,
    *,
    transform: Callable[[LoggedEvent], list[str]] | None = None,
    progress: Callable[[int], None] | None = None,
    bucket_seconds: int = BUCKET_SECONDS,
) -> list[Series]:
    """One pass over the events; a Series of sums per candidate (overall), in the candidates' order."""
    return [
        p.total
        for p in replay_slots(
            events,
            candidates,
            exploration,
            transform=transform,
            progress=progress,
            bucket_seconds=bucket_seconds,
        )
    ]


def replay_slots(
    events: Iterable[LoggedEvent],
    candidates: list[Candidate],
    exploration: float,
    *,
    transform: Callable[[LoggedEvent], list[str]] | None = None,
    progress: Callable[[int], None] | None = None,
    bucket_seconds: int = BUCKET_SECONDS,
) -> list[Played]:
    """One pass over the events; per candidate, its overall series and its series per slot ID."""
    scorers = [scorer_for(c, exploration) for c in candidates]
    played = [Played(Series(bucket_seconds), {}) for _ in candidates]
    try:
        for count, event in enumerate(events, 1):
            lines = transform(event) if transform else [event.shared, *event.action_lines]
            for scorer, out in zip(scorers, played, strict=True):
                if not event.slots:
                    out.total.add(
                        event.ranked_at, event.probability, event.reward, scorer.probability(event, lines)
                    )
                    continue
                p_log = p_pred = 1.0
                for slot, p in zip(event.slots, scorer.slot_probabilities(event, lines), strict=True):
                    series = out.slots.setdefault(slot.id, Series(bucket_seconds))
                    series.add(event.ranked_at, slot.probability, slot.reward, p)
                    p_log, p_pred = p_log * slot.probability, p_pred * p
                out.total.add(event.ranked_at, p_log, sum(s.reward for s in event.slots), p_pred)
            if progress is not None and count % 1000 == 0:
                progress(count)
    finally:
        for scorer in scorers:
            scorer.close()
    return played

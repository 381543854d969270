"""Counterfactual replay: every evaluated policy meets the logged events in order, as it would have online.

A learning policy (VW arguments) predicts a distribution for each event from what it learned before it,
is scored on the logged action with that probability, then learns the event (progressive validation, the
way Personalizer's offline evaluation trained each candidate on the log). The online policy is scored
with the logged probabilities themselves (weight 1: the rewards it earned), the baseline always takes
the first action, random picks uniformly.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bot.personalizer.local.evaluation.logs import LoggedEvent
from bot.personalizer.local.evaluation.offpolicy import Series
from bot.personalizer.local.policy import Policy, effective_arguments

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
    """Gives each event the evaluated policy's probability of the logged action."""

    def probability(self, event: LoggedEvent, lines: list[str]) -> float:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the scorer holds."""


class _Online(_Scorer):
    def probability(self, event: LoggedEvent, lines: list[str]) -> float:
        return event.probability


class _Baseline(_Scorer):
    def probability(self, event: LoggedEvent, lines: list[str]) -> float:
        return 1.0 if event.chosen == 0 else 0.0


class _Random(_Scorer):
    def probability(self, event: LoggedEvent, lines: list[str]) -> float:
        return 1.0 / len(event.action_ids)


class _Learning(_Scorer):
    def __init__(self, arguments: str, exploration: float) -> None:
        self._policy = Policy(effective_arguments(arguments, exploration))

    def probability(self, event: LoggedEvent, lines: list[str]) -> float:
        pmf = self._policy.predict(lines)
        total = sum(p for p in pmf if math.isfinite(p) and p > 0)
        chosen = pmf[event.chosen] if len(pmf) == len(event.action_ids) else 0.0
        p_pred = chosen / total if total > 0 and math.isfinite(chosen) else 1.0 / len(event.action_ids)
        labelled = list(lines)
        labelled[event.chosen + 1] = f"0:{-event.reward!r}:{event.probability!r} {lines[event.chosen + 1]}"
        self._policy.learn(labelled)
        return p_pred

    def close(self) -> None:
        self._policy.close()


def scorer_for(candidate: Candidate, exploration: float) -> _Scorer:
    """The scorer that plays this candidate."""
    if candidate.source == ONLINE:
        return _Online()
    if candidate.source == BASELINE:
        return _Baseline()
    if candidate.source == RANDOM:
        return _Random()
    return _Learning(candidate.arguments, exploration)


def replay(
    events: Iterable[LoggedEvent],
    candidates: list[Candidate],
    exploration: float,
    *,
    transform: Callable[[LoggedEvent], list[str]] | None = None,
    progress: Callable[[int], None] | None = None,
    bucket_seconds: int = BUCKET_SECONDS,
) -> list[Series]:
    """One pass over the events; a Series of sums per candidate, in the candidates' order."""
    scorers = [scorer_for(c, exploration) for c in candidates]
    series = [Series(bucket_seconds) for _ in candidates]
    try:
        for count, event in enumerate(events, 1):
            lines = transform(event) if transform else [event.shared, *event.action_lines]
            for scorer, out in zip(scorers, series, strict=True):
                out.add(event.ranked_at, event.probability, event.reward, scorer.probability(event, lines))
            if progress is not None and count % 1000 == 0:
                progress(count)
    finally:
        for scorer in scorers:
            scorer.close()
    return series

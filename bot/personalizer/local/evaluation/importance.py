"""Feature importance: how much the learning policy's counterfactual reward drops without each feature.

For every context and action feature (VW namespace and name, as the log's JSON becomes VW text), the
online policy is replayed on the same events with that feature removed; the score is the drop of its
IPS-estimated reward, relative to the largest drop (1 = the most important, 0 = no loss without it).
Scores are computed on at most MAX_EVENTS events and MAX_FEATURES features (the most frequent ones),
so a feature-importance job costs at most that many replays of that many events.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from bot.personalizer.local.evaluation.logs import LoggedEvent
from bot.personalizer.local.evaluation.offpolicy import estimate
from bot.personalizer.local.evaluation.replay import CUSTOM, Candidate, replay

MAX_EVENTS = 20_000
MAX_FEATURES = 40


@dataclass(frozen=True)
class FeatureScore:
    """One feature's score in Personalizer's terms: its namespace, its name, a score in 0..1."""

    namespace: str
    feature_name: str
    score: float


def feature_key(token: str) -> str:
    """The feature's name in one VW token: `taste=sweet` → taste, `x:0.5` → x, `v[2]:1` → v."""
    for separator in ("=", ":", "["):
        token = token.split(separator, 1)[0]
    return token


def features_of(line: str) -> list[tuple[str, str]]:
    """(namespace, feature name) of every feature on one VW line."""
    found: list[tuple[str, str]] = []
    for part in line.split("|")[1:]:
        words = part.split()
        if not words:
            continue
        namespace, tokens = words[0], words[1:]
        found.extend((namespace, feature_key(token)) for token in tokens)
    return found


def without(line: str, namespace: str, name: str) -> str:
    """The VW line with one feature removed."""
    parts = line.split("|")
    for index in range(1, len(parts)):
        words = parts[index].split()
        if words and words[0] == namespace:
            kept = [words[0]] + [t for t in words[1:] if feature_key(t) != name]
            parts[index] = " ".join(kept) + " "
    return "|".join(parts)


def score_features(
    events: list[LoggedEvent],
    policy: str,
    exploration: float,
    progress: Callable[[float], None] | None = None,
) -> list[FeatureScore]:
    """Every frequent feature's score, most important first."""
    events = events[-MAX_EVENTS:]
    counts: Counter[tuple[str, str]] = Counter()
    for event in events:
        for line in (event.shared, *event.action_lines):
            counts.update(set(features_of(line)))
    counts.pop(("A", "id"), None)  # the action's ID: not a feature the caller sent
    chosen = [key for key, _ in counts.most_common(MAX_FEATURES)]
    candidate = [Candidate("online", CUSTOM, policy)]
    full = estimate(replay(events, candidate, exploration)[0].total).expected_reward or 0.0
    drops: dict[tuple[str, str], float] = {}
    for done, (namespace, name) in enumerate(chosen, 1):

        def transform(event: LoggedEvent, ns: str = namespace, feature: str = name) -> list[str]:
            return [without(line, ns, feature) for line in (event.shared, *event.action_lines)]

        series = replay(events, candidate, exploration, transform=transform)[0]
        drops[(namespace, name)] = max(0.0, full - (estimate(series.total).expected_reward or 0.0))
        if progress is not None:
            progress(done / len(chosen))
    largest = max(drops.values(), default=0.0)
    scores = [
        FeatureScore(_shown(namespace), name, round(drop / largest, 6) if largest > 0 else 0.0)
        for (namespace, name), drop in drops.items()
    ]
    return sorted(scores, key=lambda s: (-s.score, s.namespace, s.feature_name))


def _shown(namespace: str) -> str:
    """Personalizer's namespace for a VW one: the nested object's name, or context / action at the top."""
    kind, rest = namespace[:1], namespace[1:]
    if rest:
        return rest
    return "context" if kind == "C" else "action"

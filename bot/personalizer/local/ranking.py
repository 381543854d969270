"""Pure: how a rank is decided. The model's distribution, the draw seeded by the event ID, the event row, the answer."""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import uuid
from dataclasses import dataclass
from typing import Any

from bot.personalizer.base import RankedAction, RankRequest, RankResult
from bot.personalizer.local import store
from bot.personalizer.local.policy import Policy
from bot.personalizer.local.settings import LoopSettings
from bot.personalizer.local.validation import featurize_request

_ENCODER = json.JSONEncoder(separators=(",", ":"))
# Event IDs need to be unique, not secret (the API key guards rewards): a generator seeded from the OS
# avoids a getrandom() system call per rank, which costs ~30 µs on some virtual machines. A forked
# process must not repeat its parent's sequence, so each child reseeds.
_event_ids = random.Random(uuid.uuid4().int)
os.register_at_fork(after_in_child=lambda: _event_ids.seed(uuid.uuid4().int))


@dataclass
class Decision:
    """A rank decided: the event row to log and the answer to give once it is logged."""

    row: dict[str, Any]
    result: RankResult


def decide(request: RankRequest, settings: LoopSettings, policy: Policy | None, now: float) -> Decision:
    """Validate, predict with `policy` (None: uniform), draw, and build the event row and the answer."""
    featurized = featurize_request(request, settings.max_actions, settings.policy)
    lines = featurized.id_lines if policy is not None and policy.action_ids else featurized.lines
    event_id = request.event_id or new_event_id()
    pmf = normalised(policy.predict([featurized.shared, *lines]) if policy else [], len(lines))
    if policy is not None and policy.mixes:
        pmf = explore(pmf, settings.exploration_percentage)
    model_pick = draw(pmf, event_id)
    if settings.learning_mode == "Online":
        chosen, probabilities = model_pick, pmf
    else:  # Apprentice and LoggingOnly return the baseline: the first action not excluded.
        chosen, probabilities = 0, [1.0 if i == 0 else 0.0 for i in range(len(lines))]
    actions = [request.actions[i] for i in featurized.allowed]
    row = event_row(
        event_id=event_id,
        ranked_at=now,
        deadline=now + settings.reward_wait_time,
        context=featurized.context_json,
        actions=featurized.actions_json,
        excluded=_ENCODER.encode(request.excluded_actions),
        chosen_id=actions[chosen].id,
        probability=probabilities[chosen],
        mode=settings.learning_mode,
        baseline_id=actions[0].id,
        model_choice_id=actions[model_pick].id,
        model_probability=pmf[model_pick],
        deferred=request.defer_activation,
    )
    return Decision(row, ranked_result(request, event_id, actions, chosen, probabilities))


def event_row(**columns: Any) -> dict[str, Any]:
    """A new pz_events row: the decision's columns as given, no activation or reward yet, pending."""
    return {
        **columns,
        "activated_at": None,
        "first_reward": None,
        "reward_sum": 0.0,
        "reward_count": 0,
        "state": store.PENDING,
    }


def new_event_id() -> str:
    """A fresh random event ID (32 hex digits)."""
    return uuid.UUID(int=_event_ids.getrandbits(128), version=4).hex  # getrandbits runs under the GIL


def normalised(pmf: list[float], size: int) -> list[float]:
    """The policy's scores as probabilities; uniform when there are none or they make no distribution."""
    if len(pmf) != size or not all(math.isfinite(p) and p >= 0 for p in pmf) or sum(pmf) <= 0:
        return [1.0 / size] * size
    total = sum(pmf)
    return [p / total for p in pmf]


def explore(pmf: list[float], exploration: float) -> list[float]:
    """explorationPercentage as the share of ranks that explore: (1 - e) * pmf + e * uniform.

    This is what VW's epsilon-greedy gives an epsilon policy (VW's --epsilon is the exploration), and what
    a policy that explores in its own way gets on top of its own distribution.
    """
    if exploration <= 0.0:
        return pmf
    share = exploration / len(pmf)
    return [(1.0 - exploration) * p + share for p in pmf]


def draw(pmf: list[float], event_id: str) -> int:
    """Sample from pmf with a uniform number derived from the event ID: same ID, same choice."""
    digest = hashlib.sha256(event_id.encode("utf-8")).digest()
    point = int.from_bytes(digest[:8], "big") / 2.0**64
    cumulative = 0.0
    for index, probability in enumerate(pmf):
        cumulative += probability
        if point < cumulative:
            return index
    return max(i for i, p in enumerate(pmf) if p > 0)


def ranked_result(
    request: RankRequest, event_id: str, actions: list[Any], chosen: int, probabilities: list[float]
) -> RankResult:
    """The chosen action first, then the others by probability; excluded actions last, at 0."""
    order = sorted(range(len(actions)), key=lambda i: (i != chosen, -probabilities[i], i))
    ranking = [RankedAction(actions[i].id, probabilities[i]) for i in order]
    allowed_ids = {a.id for a in actions}
    ranking += [RankedAction(a.id, 0.0) for a in request.actions if a.id not in allowed_ids]
    return RankResult(event_id=event_id, reward_action_id=actions[chosen].id, ranking=ranking)

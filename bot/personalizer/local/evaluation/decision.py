"""Which evaluated policy is optimal: a candidate wins only if its 95% lower bound beats the online policy.

Personalizer applied a new learning policy (by hand or by auto-optimization) only when the candidate's
lower confidence bound was above the online policy's expected reward; otherwise the online policy stays.
The baseline and random are reference points, never candidates: they are not learning policies.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.personalizer.local.evaluation.offpolicy import Estimate
from bot.personalizer.local.evaluation.replay import CUSTOM, DISCOVERED, ONLINE

CANDIDATE_SOURCES = (CUSTOM, DISCOVERED)


@dataclass(frozen=True)
class Decision:
    """The optimal policy's name, and why, in a sentence for the log and the dashboard."""

    policy_name: str
    changes_policy: bool
    reason: str


def decide(estimates: list[tuple[str, str, Estimate]]) -> Decision:
    """The optimal policy among (name, source, estimate) triples."""
    online = next((e for name, source, e in estimates if source == ONLINE), None)
    if online is None or online.expected_reward is None:
        return Decision("online", False, "no logged events to compare with")
    best: tuple[str, Estimate] | None = None
    for name, source, estimate in estimates:
        if source not in CANDIDATE_SOURCES or estimate.low is None or estimate.expected_reward is None:
            continue
        if best is None or estimate.expected_reward > (best[1].expected_reward or 0.0):
            best = (name, estimate)
    if best is None:
        return Decision("online", False, "no candidate policy was evaluated")
    name, estimate = best
    assert estimate.low is not None
    if estimate.low > online.expected_reward:
        return Decision(
            name,
            True,
            f"{name}: lower bound {estimate.low:.4f} > online expected reward {online.expected_reward:.4f}",
        )
    return Decision(
        "online",
        False,
        f"best candidate {name}: lower bound {estimate.low:.4f} <= online expected reward "
        f"{online.expected_reward:.4f}",
    )

"""The Ranker port: what the Slack app and the REST service need from any Personalizer-style backend."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

Features = list[dict[str, Any]]
MAX_ID_LENGTH = 256  # Personalizer's limit on event, action and slot IDs


@dataclass(frozen=True)
class RankableAction:
    """One choice the ranker may pick, with Personalizer-style features."""

    id: str
    features: Features = field(default_factory=list)


@dataclass(frozen=True)
class RankRequest:
    """Personalizer's Rank request, snake_case inside the process."""

    context_features: Features
    actions: list[RankableAction]
    excluded_actions: list[str] = field(default_factory=list)
    event_id: str | None = None
    defer_activation: bool = False


@dataclass(frozen=True)
class RankedAction:
    """One entry of a ranking: an action and the probability it had of being chosen."""

    id: str
    probability: float


@dataclass(frozen=True)
class RankResult:
    """Personalizer's Rank response: the whole ranking and the action to show (and reward)."""

    event_id: str
    reward_action_id: str
    ranking: list[RankedAction]


@dataclass(frozen=True)
class SlotRequest:
    """One slot of a multi-slot rank: its own features, baseline action and excluded actions."""

    id: str
    features: Features = field(default_factory=list)
    excluded_actions: list[str] = field(default_factory=list)
    baseline_action: str | None = None


@dataclass(frozen=True)
class MultiSlotRankRequest:
    """Personalizer's multi-slot Rank request: one context, one set of actions, several slots to fill."""

    context_features: Features
    actions: list[RankableAction]
    slots: list[SlotRequest]
    event_id: str | None = None
    defer_activation: bool = False


@dataclass(frozen=True)
class SlotResult:
    """The action chosen for one slot."""

    id: str
    reward_action_id: str


@dataclass(frozen=True)
class MultiSlotRankResult:
    """Personalizer's multi-slot Rank response: one chosen action per slot, in the request's slot order."""

    event_id: str
    slots: list[SlotResult]


@dataclass(frozen=True)
class SlotReward:
    """A reward for one slot of a multi-slot event."""

    slot_id: str
    value: float


class Ranker(Protocol):
    """The port. Backends: the embedded learner (`local`) and Microsoft's client (`azure`)."""

    def rank(self, request: RankRequest) -> RankResult:
        """Rank the actions for this context and log the event under its event ID."""
        ...

    def reward(self, event_id: str, value: float) -> None:
        """Report how good the reward action of this event turned out to be."""
        ...

    def activate(self, event_id: str) -> None:
        """Activate an event ranked with defer_activation=True."""
        ...


def rank_each(ranker: Ranker, requests: list[RankRequest]) -> list[RankResult]:
    """Each request's rank, in order; a ranker with its own `rank_each` (one call for all) is asked once."""
    together = getattr(ranker, "rank_each", None)
    if callable(together):
        results: list[RankResult] = together(requests)
        return results
    return [ranker.rank(request) for request in requests]


class RankerError(Exception):
    """Base of every error a Ranker raises."""


class InvalidRequest(RankerError, ValueError):
    """The request is malformed; nothing was logged. `code` and `target` follow Personalizer's error body."""

    def __init__(self, message: str, code: str = "BadRequest", target: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.target = target


class EventNotFound(RankerError, LookupError):
    """No event with this ID was ranked (or it is past log retention)."""

    def __init__(self, event_id: str) -> None:
        super().__init__(f"Event {event_id!r} was not found.")
        self.event_id = event_id


class RankerUnavailable(RankerError):
    """The backend could not answer: timeout, refused connection, 5xx, unwritable storage."""

"""What every listener shares: reading the text shortcut, the user's time of day, and ranking a suggestion."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from blocks import suggestion as why
from blocks.suggestion import build_suggestion, suggestion_text
from bot.menu import TASTES, TIMES_OF_DAY, context_features
from bot.personalizer.base import RankRequest
from bot.suggestions import History, Suggestion

if TYPE_CHECKING:  # listeners use the services they are handed, never build them
    from bot.services import Services

logger = logging.getLogger(__name__)
HELP_WORDS = {"help", "-h", "--help", "?", "usage"}


@dataclass(frozen=True)
class Shortcut:
    """What `/whatsfordinner <words>` asked for."""

    taste: str | None = None
    time_of_day: str | None = None
    unknown: list[str] = field(default_factory=list)
    wants_help: bool = False


def parse_shortcut(text: str) -> Shortcut:
    """Read taste and time of day from the command text, in any order and any case."""
    taste: str | None = None
    time_of_day: str | None = None
    unknown: list[str] = []
    for word in text.lower().split():
        if word in HELP_WORDS:
            return Shortcut(wants_help=True)
        if word in TASTES and taste in (None, word):
            taste = word
        elif word in TIMES_OF_DAY and time_of_day in (None, word):
            time_of_day = word
        else:
            unknown.append(word)  # an unknown word, or a second, conflicting taste or time
    return Shortcut(taste=taste, time_of_day=time_of_day, unknown=unknown)


def time_of_day_at(hour: int) -> str:
    """The quickstart's time-of-day bucket for a local hour 0..23."""
    if 5 <= hour < 12:
        return "morning"
    if 12 <= hour < 17:
        return "afternoon"
    if 17 <= hour < 22:
        return "evening"
    return "night"


def time_of_day_for_offset(tz_offset_seconds: int, now: datetime | None = None) -> str:
    """The time of day where the user is, from Slack's `tz_offset` (seconds east of UTC)."""
    utc_now = now or datetime.now(UTC)
    local_hour = (utc_now.hour * 3600 + utc_now.minute * 60 + tz_offset_seconds) // 3600 % 24
    return time_of_day_at(local_hour)


def user_time_of_day(client: Any, user_id: str) -> str | None:
    """The user's local time of day via users.info, or None when Slack does not say."""
    try:
        response = client.users_info(user=user_id)
        offset = response.get("user", {}).get("tz_offset")
    except Exception:
        logger.warning("users.info failed; not preselecting the time of day", exc_info=True)
        return None
    return time_of_day_for_offset(int(offset)) if isinstance(offset, int | float) else None


def rank_suggestion(
    services: Services,
    *,
    requester: str,
    channel: str | None,
    taste: str,
    time_of_day: str,
    rejected: list[str] | None = None,
) -> tuple[Suggestion, History] | None:
    """Rank the dishes that fit the craving as a new event and record it; None when all were rejected.

    With the suggestion comes its dish's history with the person (what suggestion_message needs), read
    in the transaction that records it.

    Dishes that do not fit the craving go to Rank as excluded actions, Personalizer's own way of
    keeping an action out of one Rank: the learner still sees the whole menu and logs what was excluded.
    """
    menu = services.menu
    rejected = rejected or []
    if not set(menu.fitting(taste)) - set(rejected):
        return None
    excluded = menu.excluded_for(taste, rejected)
    request = RankRequest(
        context_features=context_features(taste, time_of_day, requester),
        actions=menu.actions(),
        excluded_actions=excluded,
        event_id=str(uuid.uuid4()),
    )
    result = services.ranker.rank(request)
    suggestion = Suggestion(
        event_id=result.event_id,
        requester=requester,
        channel=channel,
        dish=result.reward_action_id,
        taste=taste,
        time_of_day=time_of_day,
        ranking=[(r.id, r.probability) for r in result.ranking],
        excluded=excluded,
        rejected=rejected,
        created_at=time.time(),
    )
    return suggestion, services.suggestions.add_and_history(suggestion)


def why_this(suggestion: Suggestion, history: list[tuple[str, str, float | None]]) -> str:
    """Which one-line reason fits: the person's earlier suggestions of this dish, else the ranking."""
    liked = {(taste, time_of_day) for taste, time_of_day, vote in history if vote is not None and vote > 0}
    if (suggestion.taste, suggestion.time_of_day) in liked:
        return why.LIKED_HERE
    if liked:
        return why.LIKED
    if not history:
        return why.NEW
    chances = [p for d, p in suggestion.ranking if d not in suggestion.excluded]
    chosen = dict(suggestion.ranking).get(suggestion.dish, 0.0)
    best = max(chances, default=chosen)
    if chosen < best - 1e-9:
        return why.DIFFERENT
    tied = sum(1 for p in chances if abs(p - best) <= 1e-9)
    return why.LIKELY if tied == 1 else why.CRAVING


def suggestion_message(
    services: Services, suggestion: Suggestion, history: History | None = None, note: str | None = None
) -> dict[str, Any]:
    """respond() arguments that draw a suggestion in its current state (plus an optional note).

    `history` is its dish's earlier suggestions to the person, read here unless given.
    """
    menu = services.menu
    left = set(menu.fitting(suggestion.taste)) - set(suggestion.rejected + [suggestion.dish])
    can_try_another = not suggestion.retried and bool(left)
    if history is None:
        history = services.suggestions.history(suggestion.requester, suggestion.dish, suggestion.created_at)
    blocks = build_suggestion(
        suggestion.dish,
        suggestion.ranking,
        suggestion.event_id,
        taste=suggestion.taste,
        time_of_day=suggestion.time_of_day,
        excluded=suggestion.excluded,
        why=why_this(suggestion, history),
        vote=suggestion.vote,
        can_try_another=can_try_another,
        note=note,
    )
    return {"text": suggestion_text(suggestion.dish), "blocks": blocks}

"""Clicks: Suggest, 👍/👎 and Try another; each runs after the click was acked (see register_listeners)."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from blocks import ids
from blocks.menus import decode_defaults
from blocks.messages import (
    OUT_OF_IDEAS,
    PICK_TASTE,
    RANKER_DOWN,
    SUGGESTION_GONE,
    VOTE_FAILED,
    build_only_requester,
)
from bot.listeners.conversation import rank_suggestion, suggestion_message, user_time_of_day
from bot.listeners.home import refresh_home
from bot.menu import TASTES, TIMES_OF_DAY
from bot.personalizer.base import EventNotFound
from bot.suggestions import Suggestion

if TYPE_CHECKING:  # listeners use the services they are handed, never build them
    from bot.services import Services

logger = logging.getLogger(__name__)


def handle_suggest(services: Services, body: dict[str, Any], respond: Any, client: Any) -> None:
    """Rank with the chosen taste and time of day; the suggestion replaces the menus."""
    user_id = body["user"]["id"]
    state = (body.get("state") or {}).get("values") or {}
    menus = state.get(ids.MENUS_BLOCK) or {}
    default_taste, default_time = decode_defaults(_action(body).get("value"))
    taste = _selected(menus, ids.TASTE_SELECT, TASTES) or _valid(default_taste, TASTES)
    time_of_day = _selected(menus, ids.TIME_SELECT, TIMES_OF_DAY) or _valid(default_time, TIMES_OF_DAY)
    if taste is None:
        _tell(respond, PICK_TASTE)
        return
    time_of_day = time_of_day or user_time_of_day(client, user_id) or "evening"
    message_ts = (body.get("container") or {}).get("message_ts")
    click_key = f"{message_ts}:{user_id}" if message_ts else None
    if click_key and not services.suggestions.claim_suggest(click_key):
        logger.info("Suggest on message %s already handled (a double click)", message_ts)
        return
    try:
        ranked = rank_suggestion(
            services, requester=user_id, channel=_channel(body), taste=taste, time_of_day=time_of_day
        )
    except Exception:
        logger.exception("rank failed for Suggest")
        if click_key:
            services.suggestions.release_suggest(click_key)
        _tell(respond, RANKER_DOWN)
        return
    if ranked is not None:
        respond(replace_original=True, **suggestion_message(services, *ranked))


def handle_thumbs_up(services: Services, body: dict[str, Any], respond: Any, client: Any) -> None:
    """👍: reward 1.0 for the suggestion's event."""
    vote(services, body, respond, client, 1.0)


def handle_thumbs_down(services: Services, body: dict[str, Any], respond: Any, client: Any) -> None:
    """👎: reward 0.0 for the suggestion's event (and offer Try another)."""
    vote(services, body, respond, client, 0.0)


def vote(services: Services, body: dict[str, Any], respond: Any, client: Any, value: float) -> None:
    """Send the reward once, for the requester only, show the vote instead of the buttons, refresh Home."""
    suggestion = _requesters_suggestion(services, body, respond)
    if suggestion is None:
        return
    event_id, user_id = suggestion.event_id, suggestion.requester
    counted = suggestion.vote is None and services.suggestions.claim_vote(event_id, user_id, value)
    if counted:
        try:
            services.ranker.reward(event_id, value)
        except EventNotFound:
            logger.warning("the ranker no longer knows event %s; the vote is kept, not learned", event_id)
        except Exception:
            logger.exception("reward failed for event %s", event_id)
            services.suggestions.release_vote(event_id, value)
            respond(replace_original=True, **suggestion_message(services, suggestion, note=VOTE_FAILED))
            return
    else:
        # Already counted (a double click, or a click after a lost redraw): only redraw what was recorded.
        logger.info("vote on %s was already recorded; redrawing", event_id)
    voted = replace(suggestion, vote=value) if counted else suggestion
    if voted.vote is None:  # a concurrent click won the claim after this one read the row: read its vote
        voted = services.suggestions.get(event_id) or suggestion
    respond(replace_original=True, **suggestion_message(services, voted))
    if counted:  # a double click redraws the message, but the Home tab has nothing new to show
        refresh_home(services, client, user_id)


def handle_try_another(services: Services, body: dict[str, Any], respond: Any, client: Any) -> None:
    """After 👎, rank again without the rejected dishes, as a new event."""
    previous = _requesters_suggestion(services, body, respond)
    if previous is None:
        return
    event_id, user_id = previous.event_id, previous.requester
    if not services.suggestions.claim_retry(event_id, user_id):
        logger.info("Try another on %s already claimed (or not after a 👎)", event_id)
        return
    try:
        ranked = rank_suggestion(
            services,
            requester=user_id,
            channel=previous.channel,
            taste=previous.taste,
            time_of_day=previous.time_of_day,
            rejected=previous.rejected + [previous.dish],
        )
    except Exception:
        logger.exception("rank failed for Try another")
        services.suggestions.release_retry(event_id)
        _tell(respond, RANKER_DOWN)
        return
    if ranked is None:
        respond(text=OUT_OF_IDEAS, replace_original=True)
        return
    respond(replace_original=True, **suggestion_message(services, *ranked))


def _requesters_suggestion(services: Services, body: dict[str, Any], respond: Any) -> Suggestion | None:
    """The clicked suggestion when its requester clicked; otherwise tell the clicker why not, and None."""
    suggestion = services.suggestions.get(str(_action(body).get("value") or ""))
    if suggestion is None:
        _tell(respond, SUGGESTION_GONE)
        return None
    if body["user"]["id"] != suggestion.requester:
        _tell(respond, build_only_requester(suggestion.requester))
        return None
    return suggestion


def _tell(respond: Any, text: str) -> None:
    """An ephemeral note to the clicker that leaves the message as it is."""
    respond(text=text, response_type="ephemeral", replace_original=False)


def _action(body: dict[str, Any]) -> dict[str, Any]:
    actions = body.get("actions") or [{}]
    return actions[0] if isinstance(actions[0], dict) else {}


def _selected(block_state: dict[str, Any], action_id: str, allowed: list[str]) -> str | None:
    option = (block_state.get(action_id) or {}).get("selected_option") or {}
    return _valid(option.get("value"), allowed)


def _valid(value: str | None, allowed: list[str]) -> str | None:
    return value if value in allowed else None


def _channel(body: dict[str, Any]) -> str | None:
    return (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")

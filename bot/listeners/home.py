"""The App Home tab: what the app learned about the person, read without teaching the learner anything."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from blocks.home import RECENT_SHOWN, Learned, Recent, build_home
from blocks.menus import build_menus
from blocks.messages import MENUS_TEXT
from bot.listeners.conversation import user_time_of_day
from bot.menu import TASTES, TIMES_OF_DAY, context_features
from bot.personalizer.base import RankRequest, RankResult, rank_each

if TYPE_CHECKING:  # listeners use the services they are handed, never build them
    from bot.services import Services

logger = logging.getLogger(__name__)
TIE = 1e-9  # probabilities this close are the same chance


def learned_request(services: Services, user_id: str, taste: str, time_of_day: str) -> RankRequest:
    """The Rank that asks what the learner would suggest now for this craving and time.

    Made with deferred activation and never activated: Personalizer's way of asking without logging
    an event that will be learned (it ends never learned, whatever the backend). It is sent only the
    dishes that fit the craving: each dish is scored on its own, so the chances are those a
    suggestion's Rank (which sends the whole menu and excludes the rest) would give, for half the
    features to validate and log. No event ID: nobody sees it, and the backend makes one without the
    system call uuid4 costs.
    """
    return RankRequest(
        context_features=context_features(taste, time_of_day, user_id),
        actions=services.menu.candidates(taste),
        defer_activation=True,
    )


def learned_from(taste: str, time_of_day: str, result: RankResult) -> Learned:
    """The most likely dish of a ranking, its probability, and how many dishes share it."""
    best = max(result.ranking, key=lambda r: r.probability)
    tied = sum(1 for r in result.ranking if abs(r.probability - best.probability) <= TIE)
    return Learned(taste, time_of_day, best.id, best.probability, tied=tied)


def home_view(services: Services, user_id: str) -> dict[str, Any]:
    """The person's Home tab: every craving × time of day ranked, their votes and history."""
    contexts = [(taste, time_of_day) for taste in TASTES for time_of_day in TIMES_OF_DAY]
    requests = [learned_request(services, user_id, taste, time_of_day) for taste, time_of_day in contexts]
    learned: list[Learned] | None
    try:
        # One after the other, handed to the rank thread once: a local rank costs less than a hand-off.
        results = rank_each(services.ranker, requests)
        learned = [learned_from(t, d, r) for (t, d), r in zip(contexts, results, strict=True)]
    except Exception:
        logger.exception("rank failed for the Home tab; publishing it without what was learned")
        learned = None
    shown, likes, dislikes = services.suggestions.home_history(user_id, RECENT_SHOWN)
    recent = [Recent(s.dish, s.taste, s.time_of_day, s.vote, s.created_at) for s in shown]
    return build_home(
        tastes=TASTES,
        times_of_day=TIMES_OF_DAY,
        learned=learned,
        recent=recent,
        likes=likes,
        dislikes=dislikes,
    )


def publish_home(services: Services, client: Any, user_id: str) -> None:
    """views.publish the person's Home tab."""
    client.views_publish(user_id=user_id, view=home_view(services, user_id))


def refresh_home(services: Services, client: Any, user_id: str) -> None:
    """Republish after a vote; a failure is logged only, since the vote itself was answered."""
    try:
        publish_home(services, client, user_id)
    except Exception:
        logger.warning("could not refresh the Home tab of %s after a vote", user_id, exc_info=True)


def handle_home_suggest(services: Services, body: dict[str, Any], respond: Any, client: Any) -> None:
    """Suggest now, from the Home tab: the menus, posted in the person's messages with the app."""
    user_id = body["user"]["id"]
    time_of_day = user_time_of_day(client, user_id)
    client.chat_postMessage(
        channel=user_id, text=MENUS_TEXT, blocks=build_menus(TASTES, TIMES_OF_DAY, None, time_of_day)
    )

"""Variety without losing the favourite, at the bot's default exploration: a seeded simulation, not timed.

The bot's sweet craving over the shipped menu: the sweet dishes are the ones that fit, every other dish is
excluded, and a person's 👍 and 👎 are rewards 1 and 0, as the Slack app sends them.
"""

from __future__ import annotations

import collections
import random

import pytest

from bot.config import BOT_EXPLORATION
from bot.menu import DEFAULT_MENU_FILE, context_features, load_menu
from bot.personalizer.base import RankRequest
from bot.personalizer.local.loop import open_learning_loop
from bot.personalizer.local.settings import DEFAULT_POLICY, LoopSettings

MENU = load_menu(DEFAULT_MENU_FILE)
SWEET = [d.id for d in MENU.dishes if not d.excluded and {"taste": "sweet"}.items() <= d.features[0].items()]
NOT_SWEET = [d.id for d in MENU.dishes if d.id not in SWEET]
CONTEXT = context_features("sweet", "evening", "U123")
LOOKS = 400


def open_bot_loop(database_url, clock):
    """The loop as the bot opens it on a fresh database: the bot's defaults, a model published every second."""
    settings = LoopSettings(
        model_export_frequency=1.0, exploration_percentage=BOT_EXPLORATION, policy=DEFAULT_POLICY
    )
    return open_learning_loop(database_url, settings, clock=clock, run_trainer=False)


def suggest(loop, event_id):
    return loop.rank(RankRequest(CONTEXT, MENU.actions(), NOT_SWEET, event_id=event_id)).reward_action_id


def shown(loop, prefix):
    """What the person is shown over LOOKS suggestions (ranks nobody rewards, all from the same model)."""
    return collections.Counter(suggest(loop, f"{prefix}-{i}") for i in range(LOOKS))


def test_the_menu_has_enough_sweet_dishes_for_the_simulation():
    assert len(SWEET) >= 5 and "pancakes" in SWEET


def test_after_one_thumbs_up_other_fitting_dishes_still_come_up_now_and_then(sqlite_url, clock):
    loop = open_bot_loop(sqlite_url, clock)
    try:
        liked = suggest(loop, "first")
        loop.reward("first", 1.0)
        clock.advance(2)
        loop.train_once()
        seen = shown(loop, "after-one")
        others = LOOKS - seen[liked]
        assert set(seen) <= set(SWEET)  # never a dish that does not fit
        assert seen.most_common(1)[0][0] == liked  # the 👍 counts
        # About BOT_EXPLORATION * (n - 1) / n of the suggestions explore the other fitting dishes.
        assert others >= LOOKS * BOT_EXPLORATION * 0.5
        assert len(set(seen) - {liked}) >= len(SWEET) - 2
    finally:
        loop.close()


def test_a_learned_favourite_dominates_and_the_others_still_appear(sqlite_url, clock):
    loop = open_bot_loop(sqlite_url, clock)
    dice = random.Random(7)
    try:
        for i in range(300):
            dish = suggest(loop, f"evening-{i}")
            # This person 👍 pancakes nine times in ten and anything else one time in ten.
            loop.reward(f"evening-{i}", 1.0 if dice.random() < (0.9 if dish == "pancakes" else 0.1) else 0.0)
            clock.advance(0.5)
            if i % 10 == 9:
                loop.train_once()
        seen = shown(loop, "learned")
        assert seen["pancakes"] >= LOOKS * (1 - BOT_EXPLORATION) * 0.95
        assert LOOKS - seen["pancakes"] >= LOOKS * BOT_EXPLORATION * 0.5
        assert len(seen) >= 3
    finally:
        loop.close()


@pytest.fixture
def sqlite_url(fresh_database) -> str:
    return fresh_database("sqlite")


def test_the_bot_explores_10_percent_by_default_and_the_service_keeps_personalizers_20():
    from bot.config import load_config

    assert load_config({}, "console").loop_settings.exploration_percentage == BOT_EXPLORATION == 0.1
    service = load_config({"PERSONALIZER_KEY": "k"}, "personalizer")
    assert service.loop_settings.exploration_percentage == 0.2
    chosen = load_config({"PERSONALIZER_EXPLORATION": "35"}, "console")
    assert chosen.loop_settings.exploration_percentage == pytest.approx(0.35)

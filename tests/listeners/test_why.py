"""Which one-line reason a suggestion gets, from the person's history with the dish and the ranking."""

from __future__ import annotations

import pytest

from blocks import suggestion as why
from bot.listeners.conversation import why_this
from bot.suggestions import Suggestion


def _shown(dish: str, ranking: list[tuple[str, float]], excluded: list[str] | None = None) -> Suggestion:
    return Suggestion("e1", "U1", dish, "sweet", "evening", ranking, excluded or [])


UNIFORM = [("mochi", 0.5), ("churros", 0.5), ("fries", 0.0)]
LEANING = [("mochi", 0.8), ("churros", 0.2), ("fries", 0.0)]


@pytest.mark.parametrize(
    ("dish", "ranking", "history", "expected"),
    [
        ("mochi", UNIFORM, [], why.NEW),
        ("mochi", LEANING, [("sweet", "evening", 1.0)], why.LIKED_HERE),
        ("mochi", LEANING, [("sweet", "night", 1.0), ("sweet", "evening", 0.0)], why.LIKED),
        ("churros", LEANING, [("sweet", "evening", 0.0)], why.DIFFERENT),
        ("mochi", LEANING, [("sweet", "evening", None)], why.LIKELY),
        ("mochi", UNIFORM, [("sweet", "evening", 0.0)], why.CRAVING),
    ],
)
def test_why_this(
    dish: str, ranking: list[tuple[str, float]], history: list[tuple[str, str, float | None]], expected: str
) -> None:
    assert why_this(_shown(dish, ranking, ["fries"]), history) == expected

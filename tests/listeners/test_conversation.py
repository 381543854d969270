"""The listeners' pure helpers: the text shortcut, the time of day, the context features."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.listeners.conversation import (
    Shortcut,
    parse_shortcut,
    time_of_day_at,
    time_of_day_for_offset,
)
from bot.menu import context_features


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Shortcut()),
        ("sweet evening", Shortcut("sweet", "evening")),
        ("EVENING Sweet", Shortcut("sweet", "evening")),
        ("  night   salty ", Shortcut("salty", "night")),
        ("salty salty", Shortcut("salty")),
        ("morning", Shortcut(time_of_day="morning")),
        ("spicy evening", Shortcut(time_of_day="evening", unknown=["spicy"])),
        ("salty sweet", Shortcut("salty", unknown=["sweet"])),
        ("help", Shortcut(wants_help=True)),
        ("sweet HELP", Shortcut(wants_help=True)),
    ],
)
def test_parse_shortcut(text: str, expected: Shortcut) -> None:
    assert parse_shortcut(text) == expected


@pytest.mark.parametrize(
    ("hour", "expected"),
    [(0, "night"), (4, "night"), (5, "morning"), (11, "morning"), (12, "afternoon"), (16, "afternoon")]
    + [(17, "evening"), (21, "evening"), (22, "night"), (23, "night")],
)
def test_time_of_day_buckets(hour: int, expected: str) -> None:
    assert time_of_day_at(hour) == expected


def test_time_of_day_uses_the_users_offset() -> None:
    noon_utc = datetime(2026, 1, 1, 12, 30, tzinfo=UTC)
    assert time_of_day_for_offset(0, noon_utc) == "afternoon"
    assert time_of_day_for_offset(7 * 3600, noon_utc) == "evening"  # 19:30 in Bangkok
    assert time_of_day_for_offset(-8 * 3600, noon_utc) == "night"  # 04:30 in California
    assert time_of_day_for_offset(-5 * 3600 - 1800, noon_utc) == "morning"  # 07:00


def test_context_features_shape() -> None:
    assert context_features("sweet", "night", "U1") == [
        {"taste_preference": "sweet"},
        {"time_of_day": "night"},
        {"user": "U1"},
    ]

"""The Block Kit builders: structure, ids and Slack's limits, with no mocks."""

from __future__ import annotations

from typing import Any

import pytest

from blocks import ids
from blocks.menus import build_menus, decode_defaults, encode_defaults
from blocks.messages import build_only_requester, build_usage
from blocks.suggestion import suggestion_text

TASTES = ["salty", "sweet"]
TIMES = ["morning", "afternoon", "evening", "night"]


def _action_ids(blocks: list[dict[str, Any]]) -> list[str]:
    return [e["action_id"] for b in blocks for e in b.get("elements", []) if "action_id" in e]


def test_menus_have_both_selects_and_a_primary_suggest(validate_blocks: Any) -> None:
    blocks = build_menus(TASTES, TIMES)
    validate_blocks(blocks)
    assert _action_ids(blocks) == [ids.TASTE_SELECT, ids.TIME_SELECT, ids.SUGGEST]
    menus = blocks[1]
    assert menus["block_id"] == ids.MENUS_BLOCK
    assert [o["value"] for o in menus["elements"][0]["options"]] == TASTES
    assert [o["value"] for o in menus["elements"][1]["options"]] == TIMES
    assert all("initial_option" not in e for e in menus["elements"][:2])
    assert menus["elements"][2]["style"] == "primary"


def test_menus_preselect_only_known_values(validate_blocks: Any) -> None:
    blocks = build_menus(TASTES, TIMES, selected_taste="sweet", selected_time="brunch")
    validate_blocks(blocks)
    taste, time_of_day, suggest = blocks[1]["elements"]
    assert taste["initial_option"]["value"] == "sweet"
    assert "initial_option" not in time_of_day
    assert decode_defaults(suggest["value"]) == ("sweet", None)


@pytest.mark.parametrize(("taste", "time_of_day"), [("salty", "night"), (None, "evening"), (None, None)])
def test_suggest_defaults_round_trip(taste: str | None, time_of_day: str | None) -> None:
    assert decode_defaults(encode_defaults(taste, time_of_day)) == (taste, time_of_day)


def test_decode_defaults_tolerates_garbage() -> None:
    assert decode_defaults(None) == (None, None)
    assert decode_defaults("nonsense") == ("nonsense", None)  # the listener then checks it against the menu


def test_suggestion_text_names_the_dish() -> None:
    assert suggestion_text("ramen") == "How about ramen?"


def test_usage_lists_every_value_and_the_unknown_words() -> None:
    usage = build_usage(TASTES, TIMES, ["spicy"])
    assert usage.startswith("Sorry, I don't know `spicy`.")
    assert "salty, sweet" in usage and "morning, afternoon, evening, night" in usage
    assert not build_usage(TASTES, TIMES).startswith("Sorry")


def test_only_requester_mentions_them() -> None:
    assert build_only_requester("U1") == "Only <@U1> can rate this."


def test_every_action_id_is_unique_and_within_limits() -> None:
    assert len(set(ids.ALL_ACTION_IDS)) == len(ids.ALL_ACTION_IDS)
    assert all(
        0 < len(i) <= 255 for i in (*ids.ALL_ACTION_IDS, ids.MENUS_BLOCK, ids.VOTE_BLOCK, ids.HOME_BLOCK)
    )

"""The Block Kit builders: structure, ids and Slack's limits, with no mocks."""

from __future__ import annotations

from typing import Any

import pytest

from blocks import ids
from blocks.menus import build_menus, decode_defaults, encode_defaults
from blocks.messages import build_home, build_only_requester, build_usage
from blocks.suggestion import build_suggestion, format_ranking, suggestion_text

TASTES = ["salty", "sweet"]
TIMES = ["morning", "afternoon", "evening", "night"]
RANKING = [("pasta", 0.62), ("salad", 0.21), ("ice cream", 0.17), ("juice", 0.0)]
EVENT = "6f1c0f8e-7a53-4a4e-9b0e-2f6a1d2b3c4d"


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


def test_suggestion_before_a_vote_has_both_thumbs_carrying_the_event_id(validate_blocks: Any) -> None:
    blocks = build_suggestion("pasta", RANKING, EVENT, taste="salty", time_of_day="evening")
    validate_blocks(blocks)
    assert blocks[0] == {"type": "header", "text": {"type": "plain_text", "text": "How about pasta?"}}
    assert blocks[1]["elements"][1]["text"] == "pasta 0.62 · salad 0.21 · ice cream 0.17 · juice 0.00"
    votes = blocks[-1]
    assert votes["block_id"] == ids.VOTE_BLOCK
    assert [(e["action_id"], e["text"]["text"], e["value"]) for e in votes["elements"]] == [
        (ids.VOTE_UP, "👍", EVENT),
        (ids.VOTE_DOWN, "👎", EVENT),
    ]


def test_after_thumbs_up_the_vote_shows_and_nothing_is_clickable(validate_blocks: Any) -> None:
    blocks = build_suggestion("pasta", RANKING, EVENT, taste="salty", time_of_day="evening", vote=1.0)
    validate_blocks(blocks)
    assert _action_ids(blocks) == []
    assert "👍" in blocks[-1]["elements"][0]["text"]


def test_after_thumbs_down_try_another_is_offered_when_dishes_are_left(validate_blocks: Any) -> None:
    offered = build_suggestion(
        "pasta", RANKING, EVENT, taste="s", time_of_day="t", vote=0.0, can_try_another=True
    )
    validate_blocks(offered)
    assert _action_ids(offered) == [ids.TRY_ANOTHER]
    assert offered[-1]["elements"][0]["value"] == EVENT
    assert "👎" in offered[-2]["elements"][0]["text"]
    exhausted = build_suggestion("pasta", RANKING, EVENT, taste="s", time_of_day="t", vote=0.0)
    assert _action_ids(exhausted) == []


def test_a_note_is_the_last_line_and_keeps_the_buttons(validate_blocks: Any) -> None:
    blocks = build_suggestion("pasta", RANKING, EVENT, taste="s", time_of_day="t", note="Click again")
    validate_blocks(blocks)
    assert blocks[-1] == {"type": "context", "elements": [{"type": "mrkdwn", "text": "Click again"}]}
    assert _action_ids(blocks) == [ids.VOTE_UP, ids.VOTE_DOWN]


def test_long_dish_names_and_rankings_stay_within_slack_limits(validate_blocks: Any) -> None:
    dish = "d" * 256
    ranking = [(f"{dish}{i}", 1 / 50) for i in range(50)]
    blocks = build_suggestion(
        dish, ranking, EVENT, taste="salty", time_of_day="night", vote=0.0, note="n" * 5000
    )
    validate_blocks(blocks)
    assert len(format_ranking(ranking)) == 3000


def test_suggestion_text_names_the_dish() -> None:
    assert suggestion_text("ramen") == "How about ramen?"


def test_usage_lists_every_value_and_the_unknown_words() -> None:
    usage = build_usage(TASTES, TIMES, ["spicy"])
    assert usage.startswith("Sorry, I don't know `spicy`.")
    assert "salty, sweet" in usage and "morning, afternoon, evening, night" in usage
    assert not build_usage(TASTES, TIMES).startswith("Sorry")


def test_only_requester_mentions_them() -> None:
    assert build_only_requester("U1") == "Only <@U1> can rate this."


def test_home_view_is_valid(validate_view: Any) -> None:
    view = build_home(TASTES, TIMES)
    validate_view(view)
    assert view["type"] == "home"
    assert "/whatsfordinner" in view["blocks"][1]["text"]["text"]


def test_every_action_id_is_unique_and_within_limits() -> None:
    assert len(set(ids.ALL_ACTION_IDS)) == len(ids.ALL_ACTION_IDS)
    assert all(0 < len(i) <= 255 for i in (*ids.ALL_ACTION_IDS, ids.MENUS_BLOCK, ids.VOTE_BLOCK))

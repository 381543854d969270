"""The suggestion message as a person reads it: headline, why, runners-up, labelled thumbs. No mocks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from blocks import ids
from blocks.suggestion import (
    CRAVING,
    DIFFERENT,
    LIKED,
    LIKED_HERE,
    LIKELY,
    NEW,
    build_suggestion,
    build_why,
    percent,
    runners_up,
)

RANKING = [("pasta", 0.62), ("salad", 0.21), ("ice cream", 0.12), ("pizza", 0.05), ("juice", 0.0)]
EVENT = "6f1c0f8e-7a53-4a4e-9b0e-2f6a1d2b3c4d"


def _action_ids(blocks: list[dict[str, Any]]) -> list[str]:
    return [e["action_id"] for b in blocks for e in b.get("elements", []) if "action_id" in e]


def _texts(blocks: list[dict[str, Any]]) -> list[str]:
    """Every line a person reads, in order."""
    found = []
    for block in blocks:
        if "text" in block:
            found.append(block["text"]["text"])
        found += [e["text"] for e in block.get("elements", []) if isinstance(e.get("text"), str)]
    return found


def test_headline_why_and_three_runners_up_with_percentages(validate_blocks: Any) -> None:
    blocks = build_suggestion(
        "pasta", RANKING, EVENT, taste="salty", time_of_day="evening", excluded=["juice"], why=NEW
    )
    validate_blocks(blocks)
    assert _texts(blocks) == [
        "How about pasta?",
        "New for you · salty craving, evening",
        "Runners-up: salad 21% · ice cream 12% · pizza 5%",
    ]


def test_an_excluded_dish_is_never_shown_even_if_listed_with_a_chance() -> None:
    ranking = [("salad", 0.5), ("ice cream", 0.3), ("pasta", 0.2)]
    blocks = build_suggestion(
        "salad", ranking, EVENT, taste="salty", time_of_day="night", excluded=["ice cream"]
    )
    assert "ice cream" not in json.dumps(blocks)
    assert runners_up("salad", ranking, ["ice cream"]) == [("pasta", 0.2)]


def test_dishes_it_would_never_pick_are_not_runners_up(validate_blocks: Any) -> None:
    blocks = build_suggestion("pasta", [("pasta", 1.0), ("salad", 0.0)], EVENT, taste="s", time_of_day="t")
    validate_blocks(blocks)
    assert not any(t.startswith("Runners-up") for t in _texts(blocks))


def test_runners_up_are_sorted_by_probability_whatever_the_ranking_order() -> None:
    ranking = [("a", 0.1), ("b", 0.3), ("c", 0.2), ("d", 0.4)]
    assert runners_up("a", ranking, ()) == [("d", 0.4), ("b", 0.3), ("c", 0.2)]


@pytest.mark.parametrize(
    ("probability", "shown"), [(0.31, "31%"), (1.0, "100%"), (0.004, "<1%"), (0.0, "0%"), (0.995, "100%")]
)
def test_percent(probability: float, shown: str) -> None:
    assert percent(probability) == shown


@pytest.mark.parametrize(
    ("why", "line"),
    [
        (NEW, "New for you · sweet craving, evening"),
        (LIKED_HERE, "You liked this for a sweet craving in the evening"),
        (LIKED, "You liked this before · sweet craving, evening"),
        (DIFFERENT, "Something different this time · sweet craving, evening"),
        (LIKELY, "Most likely for a sweet craving in the evening · 40%"),
        (CRAVING, "For a sweet craving in the evening"),
    ],
)
def test_why_is_one_short_line(why: str, line: str) -> None:
    assert build_why(why, "sweet", "evening", 0.4) == line
    assert len(line) <= 60


def test_thumbs_say_what_they_do_to_a_screen_reader(validate_blocks: Any) -> None:
    blocks = build_suggestion("pad thai", RANKING, EVENT, taste="sweet", time_of_day="evening")
    validate_blocks(blocks)
    votes = blocks[-1]
    assert votes["block_id"] == ids.VOTE_BLOCK
    assert [
        (e["action_id"], e["text"]["text"], e["accessibility_label"], e["value"]) for e in votes["elements"]
    ] == [
        (ids.VOTE_UP, "👍", "I'd eat this: pad thai", EVENT),
        (ids.VOTE_DOWN, "👎", "Not for me: pad thai", EVENT),
    ]


def test_after_thumbs_up_the_vote_shows_and_nothing_is_clickable(validate_blocks: Any) -> None:
    blocks = build_suggestion("pasta", RANKING, EVENT, taste="salty", time_of_day="evening", vote=1.0)
    validate_blocks(blocks)
    assert _action_ids(blocks) == []
    assert _texts(blocks)[-1] == "👍 You liked this. Noted!"


def test_after_thumbs_down_try_another_is_offered_when_dishes_are_left(validate_blocks: Any) -> None:
    offered = build_suggestion(
        "pasta", RANKING, EVENT, taste="salty", time_of_day="t", vote=0.0, can_try_another=True
    )
    validate_blocks(offered)
    assert _action_ids(offered) == [ids.TRY_ANOTHER]
    button = offered[-1]["elements"][0]
    assert button["value"] == EVENT and button["accessibility_label"] == "Suggest another salty dish"
    assert _texts(offered)[-1] == "👎 Not this one. Noted!"
    exhausted = build_suggestion("pasta", RANKING, EVENT, taste="s", time_of_day="t", vote=0.0)
    assert _action_ids(exhausted) == []


def test_a_note_is_the_last_line_and_keeps_the_buttons(validate_blocks: Any) -> None:
    blocks = build_suggestion("pasta", RANKING, EVENT, taste="s", time_of_day="t", note="Click again")
    validate_blocks(blocks)
    assert blocks[-1] == {"type": "context", "elements": [{"type": "mrkdwn", "text": "Click again"}]}
    assert _action_ids(blocks) == [ids.VOTE_UP, ids.VOTE_DOWN]


def test_long_dish_names_stay_within_slack_limits(validate_blocks: Any) -> None:
    dish = "d" * 256
    ranking = [(f"{dish}{i}", 1 / 50) for i in range(50)]
    for vote in (None, 0.0):
        blocks = build_suggestion(
            ranking[0][0],
            ranking,
            EVENT,
            taste="salty",
            time_of_day="night",
            vote=vote,
            note="n" * 5000,
            can_try_another=True,
        )
        validate_blocks(blocks)
    labels = [
        e["accessibility_label"]
        for e in build_suggestion(dish, ranking, EVENT, taste="s", time_of_day="t")[-1]["elements"]
    ]
    assert all(len(label) == 75 and label.endswith("…") for label in labels)


def test_dish_names_cannot_inject_mrkdwn_links() -> None:
    ranking = [("pasta", 0.5), ("<!channel> & co", 0.5)]
    blocks = build_suggestion("pasta", ranking, EVENT, taste="s", time_of_day="t")
    assert "Runners-up: &lt;!channel&gt; &amp; co 50%" in _texts(blocks)

"""The Home tab about the person: Suggest now, what it learned as text bars, votes, recent history. No mocks."""

from __future__ import annotations

from typing import Any

from blocks import ids
from blocks.home import Learned, Recent, bar, build_home, learned_line, recent_line

TASTES = ["salty", "sweet"]
TIMES = ["morning", "afternoon", "evening", "night"]
AT = 1_780_000_000.0


def _learned() -> list[Learned]:
    rows = [Learned(t, time, "pasta", 0.2, tied=5) for t in TASTES for time in TIMES]
    rows[6] = Learned("sweet", "evening", "pad thai", 0.84)
    return rows


def _home(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "tastes": TASTES,
        "times_of_day": TIMES,
        "learned": _learned(),
        "recent": [
            Recent("pad thai", "sweet", "evening", 1.0, AT),
            Recent("salad", "salty", "night", None, AT),
        ],
        "likes": 3,
        "dislikes": 1,
    }
    values.update(overrides)
    return build_home(**values)


def _mrkdwn(view: dict[str, Any]) -> str:
    parts = []
    for block in view["blocks"]:
        if "text" in block:
            parts.append(block["text"]["text"])
        parts += [e["text"] for e in block.get("elements", []) if isinstance(e.get("text"), str)]
    return "\n".join(parts)


def test_bar_rounds_to_ten_cells() -> None:
    assert bar(0.84) == "████████░░"
    assert bar(0.0) == "░░░░░░░░░░" and bar(1.0) == "██████████" and bar(0.04) == "░░░░░░░░░░"
    assert bar(1.7) == "██████████"


def test_a_learned_favourite_reads_as_bar_percentage_time_and_dish() -> None:
    assert (
        learned_line(Learned("sweet", "evening", "pad thai", 0.84)) == "`████████░░` 84% evening: *pad thai*"
    )


def test_a_tie_says_there_is_no_favourite_yet() -> None:
    line = learned_line(Learned("sweet", "morning", "pancakes", 0.2, tied=5))
    assert line == "`██░░░░░░░░` 20% morning: no favourite yet (5 dishes tie)"


def test_recent_lines_show_the_vote_and_a_local_date() -> None:
    assert recent_line(Recent("pad thai", "sweet", "evening", 1.0, AT)).startswith(
        "👍 pad thai · sweet, evening · "
    )
    assert recent_line(Recent("salad", "salty", "night", 0.0, AT)).startswith("👎 salad")
    unvoted = recent_line(Recent("salad", "salty", "night", None, AT))
    assert unvoted.startswith("· salad") and f"<!date^{int(AT)}^" in unvoted


def test_home_has_suggest_now_counts_every_context_and_the_history(validate_view: Any) -> None:
    view = _home()
    validate_view(view)
    assert view["type"] == "home"
    button = view["blocks"][1]["accessory"]
    assert button["action_id"] == ids.HOME_SUGGEST and button["text"]["text"] == "Suggest now"
    assert button["accessibility_label"]
    text = _mrkdwn(view)
    assert "👍 3 · 👎 1" in text
    assert "*Sweet*\n" in text and "*Salty*\n" in text
    assert "`████████░░` 84% evening: *pad thai*" in text
    sweet = next(
        b["text"]["text"] for b in view["blocks"] if b.get("text", {}).get("text", "").startswith("*Sweet*")
    )
    assert [line.split(" ")[2].rstrip(":") for line in sweet.splitlines()[1:]] == TIMES
    assert text.index("👍 pad thai") < text.index("· salad")  # newest first, as given


def test_home_shows_at_most_ten_recent_suggestions(validate_view: Any) -> None:
    recent = [Recent(f"dish {i}", "salty", "night", None, AT - i) for i in range(25)]
    view = _home(recent=recent)
    validate_view(view)
    text = _mrkdwn(view)
    assert "dish 9 " in text and "dish 10 " not in text


def test_a_new_person_gets_a_hint_instead_of_an_empty_history(validate_view: Any) -> None:
    view = _home(recent=[], likes=0, dislikes=0)
    validate_view(view)
    assert "Nothing yet: press *Suggest now*." in _mrkdwn(view)


def test_long_dish_names_fit_slacks_limits(validate_view: Any) -> None:
    dish = "x" * 256
    learned = [Learned(t, time, dish, 1.0) for t in TASTES for time in TIMES]
    recent = [Recent(dish, "salty", "night", 1.0, AT) for _ in range(10)]
    validate_view(_home(learned=learned, recent=recent))


def test_when_the_ranker_is_down_the_rest_of_the_tab_still_shows(validate_view: Any) -> None:
    view = _home(learned=None)
    validate_view(view)
    text = _mrkdwn(view)
    assert "can't reach the recommender" in text and "👍 pad thai" in text and "*Sweet*" not in text

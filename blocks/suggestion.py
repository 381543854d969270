"""The suggestion message: the dish as headline, one line of why, the runners-up, and what to click next."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from blocks import ids

Block = dict[str, Any]
MAX_CONTEXT_TEXT = 3000
MAX_LABEL = 75  # Slack's limit on a button's text and accessibility_label
MAX_DISH_IN_LINE = 60  # a dish name cut in running text, so three runners-up fit a phone's line or two
RUNNERS_UP = 3

# Why this dish, in one short line; the listener picks the kind from the person's history.
NEW = "new"  # never suggested to this person before
LIKED_HERE = "liked_here"  # 👍 before, for this craving and time of day
LIKED = "liked"  # 👍 before, in another context
DIFFERENT = "different"  # not the most likely dish right now: the learner is trying something else
LIKELY = "likely"  # the most likely dish for this craving and time
CRAVING = "craving"  # none of the above (several dishes equally likely): just the craving and time
WHY_KINDS = (NEW, LIKED_HERE, LIKED, DIFFERENT, LIKELY, CRAVING)


def percent(probability: float) -> str:
    """A probability as a whole percentage; `<1%` for a chance too small to round up, never a false 0%."""
    if 0 < probability < 0.005:
        return "<1%"
    return f"{probability:.0%}"


def short(text: str, limit: int = MAX_DISH_IN_LINE) -> str:
    """`text` cut to `limit` characters with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def escape(text: str) -> str:
    """A menu's text made safe in mrkdwn: Slack reads `<`, `>` and `&` as links and entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def build_why(why: str, taste: str, time_of_day: str, probability: float) -> str:
    """One short line on why this dish: the person's history with it, or the craving and time."""
    craving = f"{taste} craving, {time_of_day}"
    if why == NEW:
        return f"New for you · {craving}"
    if why == LIKED_HERE:
        return f"You liked this for a {taste} craving in the {time_of_day}"
    if why == LIKED:
        return f"You liked this before · {craving}"
    if why == DIFFERENT:
        return f"Something different this time · {craving}"
    if why == LIKELY:
        return f"Most likely for a {taste} craving in the {time_of_day} · {percent(probability)}"
    return f"For a {taste} craving in the {time_of_day}"


def runners_up(
    dish: str, ranking: list[tuple[str, float]], excluded: Collection[str], count: int = RUNNERS_UP
) -> list[tuple[str, float]]:
    """The next most likely dishes after `dish`: never an excluded one, nor one it would not pick now."""
    others = [(d, p) for d, p in ranking if d != dish and d not in excluded and p > 0]
    return sorted(others, key=lambda item: -item[1])[:count]


def format_runners_up(others: list[tuple[str, float]]) -> str:
    """`Runners-up: ice cream 12% · pancakes 9%`."""
    return "Runners-up: " + " · ".join(f"{escape(short(d))} {percent(p)}" for d, p in others)


def build_suggestion(
    dish: str,
    ranking: list[tuple[str, float]],
    event_id: str,
    *,
    taste: str,
    time_of_day: str,
    excluded: Collection[str] = (),
    why: str = CRAVING,
    vote: float | None = None,
    can_try_another: bool = False,
    note: str | None = None,
) -> list[Block]:
    """The suggestion; with 👍/👎 before a vote, the vote (and Try another after 👎) once voted.

    `note` adds a last line, e.g. why a vote has to be clicked again.
    """
    probability = dict(ranking).get(dish, 0.0)
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": short(f"How about {dish}?", 150)}},
        _context(build_why(why, taste, time_of_day, probability)),
    ]
    others = runners_up(dish, ranking, excluded)
    if others:
        blocks.append(_context(format_runners_up(others)))
    if vote is None:
        blocks.append(
            {
                "type": "actions",
                "block_id": ids.VOTE_BLOCK,
                "elements": [
                    _button(ids.VOTE_UP, "👍", event_id, label=f"I'd eat this: {dish}"),
                    _button(ids.VOTE_DOWN, "👎", event_id, label=f"Not for me: {dish}"),
                ],
            }
        )
        return _with_note(blocks, note)
    verdict = "👍 You liked this. Noted!" if vote > 0 else "👎 Not this one. Noted!"
    blocks.append(_context(verdict))
    if vote <= 0 and can_try_another:
        label = f"Suggest another {taste} dish"
        blocks.append(
            {
                "type": "actions",
                "block_id": ids.VOTE_BLOCK,
                "elements": [_button(ids.TRY_ANOTHER, "Try another", event_id, label=label, style="primary")],
            }
        )
    return _with_note(blocks, note)


def suggestion_text(dish: str) -> str:
    """Notification fallback text for a suggestion."""
    return f"How about {dish}?"


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": short(text, MAX_CONTEXT_TEXT)}]}


def _with_note(blocks: list[Block], note: str | None) -> list[Block]:
    if note:
        blocks.append(_context(note))
    return blocks


def _button(action_id: str, text: str, value: str, *, label: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": text, "emoji": True},
        "value": value,
        # What a screen reader says instead of "thumbs up": the action and the dish it rates.
        "accessibility_label": short(label, MAX_LABEL),
    }
    if style:
        button["style"] = style
    return button

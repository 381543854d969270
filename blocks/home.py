"""The App Home tab: a Suggest now button, what the app learned about the person, their votes and history."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from blocks import ids
from blocks.suggestion import escape, percent, short

Block = dict[str, Any]
BAR_CELLS = 10  # ten cells of 10%: short enough for a phone's line next to the percentage and the dish
FULL, EMPTY = "█", "░"
MAX_DISH_IN_HOME = 40
RECENT_SHOWN = 10


@dataclass(frozen=True)
class Learned:
    """What the learner would suggest now for one craving and time of day, and how sure it is."""

    taste: str
    time_of_day: str
    dish: str
    probability: float
    tied: int = 1  # how many dishes share the top probability (more than one: no favourite yet)


@dataclass(frozen=True)
class Recent:
    """One suggestion the person got, and their vote on it (None: not voted)."""

    dish: str
    taste: str
    time_of_day: str
    vote: float | None
    at: float  # seconds since the epoch


def bar(probability: float, cells: int = BAR_CELLS) -> str:
    """`███████░░░`: the probability as a row of cells, rounded to the nearest cell."""
    filled = max(0, min(cells, round(probability * cells)))
    return FULL * filled + EMPTY * (cells - filled)


def learned_line(learned: Learned) -> str:
    """`███████░░░ 72% evening: pad thai` (or `no favourite yet` while dishes tie)."""
    if learned.tied > 1:
        what = f"no favourite yet ({learned.tied} dishes tie)"
    else:
        what = f"*{escape(short(learned.dish, MAX_DISH_IN_HOME))}*"
    return f"`{bar(learned.probability)}` {percent(learned.probability)} {learned.time_of_day}: {what}"


def recent_line(recent: Recent) -> str:
    """`👍 pad thai · sweet, evening · <date>`, the date in the reader's own time zone."""
    mark = "·" if recent.vote is None else ("👍" if recent.vote > 0 else "👎")
    when = f"<!date^{int(recent.at)}^{{date_short_pretty}} {{time}}|{int(recent.at)}>"
    dish = escape(short(recent.dish, MAX_DISH_IN_HOME))
    return f"{mark} {dish} · {recent.taste}, {recent.time_of_day} · {when}"


def build_home(
    *,
    tastes: list[str],
    times_of_day: list[str],
    learned: list[Learned] | None,
    recent: list[Recent],
    likes: int,
    dislikes: int,
) -> dict[str, Any]:
    """The Home tab view: Suggest now, what it learned per craving × time of day, the votes and history.

    `learned` is None when the ranker could not be asked: the tab says so and shows the rest.
    """
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": "What's for dinner?"}},
        {
            "type": "section",
            "block_id": ids.HOME_BLOCK,
            "text": {
                "type": "mrkdwn",
                "text": "Pick a craving and a time of day and I suggest a dish. Your 👍 and 👎 teach me "
                "what *you* like.",
            },
            "accessory": {
                "type": "button",
                "action_id": ids.HOME_SUGGEST,
                "style": "primary",
                "text": {"type": "plain_text", "text": "Suggest now"},
                "accessibility_label": "Suggest a dish now, in your messages with me",
            },
        },
        _context(f"Your votes: 👍 {likes} · 👎 {dislikes}"),
        {"type": "divider"},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "*What I've learned: my pick for you now, and how sure I am*"},
        },
    ]
    if learned is None:
        blocks.append(
            _context("I can't reach the recommender right now; this comes back on your next visit.")
        )
    by_taste = {taste: [x for x in learned or [] if x.taste == taste] for taste in tastes}
    for taste, rows in by_taste.items():
        if rows:
            order = {t: i for i, t in enumerate(times_of_day)}
            rows.sort(key=lambda x: order.get(x.time_of_day, len(order)))
            text = f"*{taste.capitalize()}*\n" + "\n".join(learned_line(x) for x in rows)
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": short(text, 3000)}})
    blocks.append({"type": "divider"})
    shown = recent[:RECENT_SHOWN]
    history = "\n".join(recent_line(r) for r in shown) if shown else "Nothing yet: press *Suggest now*."
    blocks.append(
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": short(f"*Your recent suggestions*\n{history}", 3000)},
        }
    )
    blocks.append(
        _context(
            f"Or type `/whatsfordinner` anywhere, e.g. `/whatsfordinner sweet evening`. "
            f"Cravings: {', '.join(tastes)}. Times: {', '.join(times_of_day)}."
        )
    )
    return {"type": "home", "blocks": blocks}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}

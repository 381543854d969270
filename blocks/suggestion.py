"""The suggestion message: headline dish, the ranking in one context line, and what can be clicked next."""

from __future__ import annotations

from typing import Any

from blocks import ids

Block = dict[str, Any]
MAX_CONTEXT_TEXT = 3000


def format_ranking(ranking: list[tuple[str, float]]) -> str:
    """`pasta 0.62 · salad 0.21 · ...` as the Personalizer quickstart prints the ranking, cut to fit a context element."""
    text = " · ".join(f"{dish} {probability:.2f}" for dish, probability in ranking)
    return text if len(text) <= MAX_CONTEXT_TEXT else text[: MAX_CONTEXT_TEXT - 1] + "…"


def build_suggestion(
    dish: str,
    ranking: list[tuple[str, float]],
    event_id: str,
    *,
    taste: str,
    time_of_day: str,
    vote: float | None = None,
    can_try_another: bool = False,
    note: str | None = None,
) -> list[Block]:
    """The suggestion; with 👍/👎 before a vote, the vote (and Try another after 👎) once voted.

    `note` adds a last line, e.g. why a vote has to be clicked again.
    """
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"How about {dish}?"[:150]}},
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": f"For a *{taste}* craving, {time_of_day}."},
                {"type": "plain_text", "text": format_ranking(ranking)},
            ],
        },
    ]
    if vote is None:
        blocks.append(
            {
                "type": "actions",
                "block_id": ids.VOTE_BLOCK,
                "elements": [
                    _button(ids.VOTE_UP, "👍", event_id),
                    _button(ids.VOTE_DOWN, "👎", event_id),
                ],
            }
        )
        return _with_note(blocks, note)
    verdict = "👍 You liked this. Noted!" if vote > 0 else "👎 Not this one. Noted!"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": verdict}]})
    if vote <= 0 and can_try_another:
        blocks.append(
            {
                "type": "actions",
                "block_id": ids.VOTE_BLOCK,
                "elements": [_button(ids.TRY_ANOTHER, "Try another", event_id, style="primary")],
            }
        )
    return _with_note(blocks, note)


def suggestion_text(dish: str) -> str:
    """Notification fallback text for a suggestion."""
    return f"How about {dish}?"


def _with_note(blocks: list[Block], note: str | None) -> list[Block]:
    if note:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": note[:MAX_CONTEXT_TEXT]}]})
    return blocks


def _button(action_id: str, label: str, value: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": label, "emoji": True},
        "value": value,
    }
    if style:
        button["style"] = style
    return button

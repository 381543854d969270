"""Short text answers: usage, friendly errors, and the App Home view."""

from __future__ import annotations

from typing import Any

Block = dict[str, Any]


def build_usage(tastes: list[str], times_of_day: list[str], unknown: list[str] | None = None) -> str:
    """Usage of /whatsfordinner listing the valid values; names the words it did not understand."""
    lead = f"Sorry, I don't know {', '.join(f'`{w}`' for w in unknown)}. " if unknown else ""
    return (
        f"{lead}Usage: `/whatsfordinner` shows the menus, or `/whatsfordinner <taste> <time of day>` "
        f"suggests at once, in any order. Taste: {', '.join(tastes)}. "
        f"Time of day: {', '.join(times_of_day)}. Example: `/whatsfordinner sweet evening`."
    )


def build_only_requester(requester: str) -> str:
    """What someone else sees when they click another person's suggestion."""
    return f"Only <@{requester}> can rate this."


def build_home(tastes: list[str], times_of_day: list[str]) -> dict[str, Any]:
    """The App Home tab: what the app does and how to ask it."""
    return {
        "type": "home",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "What's for dinner?"}},
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "Type `/whatsfordinner` in any channel, pick a taste and a time of day, and I "
                    "suggest a dish. Your 👍 and 👎 teach me what *you* like.",
                },
            },
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"Shortcut: `/whatsfordinner sweet evening`. Tastes: {', '.join(tastes)}. "
                        f"Times: {', '.join(times_of_day)}.",
                    }
                ],
            },
        ],
    }


RANKER_DOWN = (
    "Sorry, I can't come up with a dish right now: the recommender isn't answering. "
    "Please try again in a minute."
)
STORAGE_DOWN = (
    "Sorry, I can't save anything right now: my storage is failing. Please try again in a few minutes."
)
SOMETHING_WENT_WRONG = "Sorry, something went wrong on my side. Please try again."
VOTE_FAILED = "Sorry, I couldn't record your vote. Please click it again in a moment."
SUGGESTION_GONE = "I can't find that suggestion any more. Type `/whatsfordinner` for a new one."
PICK_TASTE = "Pick a taste first, then click *Suggest*."
OUT_OF_IDEAS = "That was everything on the menu. Type `/whatsfordinner` to start over."

"""Short text answers: usage and friendly errors."""

from __future__ import annotations


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
OUT_OF_IDEAS = "That was every dish on the menu for this craving. Type `/whatsfordinner` to start over."
MENUS_TEXT = "What's for dinner? Pick a taste and a time of day."

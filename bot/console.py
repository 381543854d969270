"""`python app.py console`: the Personalizer quickstart's loop in the terminal, on the app's ranker."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from bot.menu import TASTES, TIMES_OF_DAY, Menu, context_features
from bot.personalizer.base import Ranker, RankRequest

logger = logging.getLogger(__name__)
CONSOLE_USER = "console"  # the user feature for terminal sessions, so they learn like one person
# The Personalizer quickstart's prompts and messages, word for word.
TASTE_PROMPT = "What type of food would you prefer? Enter number 1.salty 2.sweet\n"
TIME_PROMPT = "What time of day is it (enter number)? 1. morning 2. afternoon 3. evening 4. night\n"
ANSWER_PROMPT = "Is this correct?(y/n)\n"
QUIT_PROMPT = "Press Q to exit, any other key to continue: "
INVALID_ANSWER = (
    "Entered choice is invalid. Service assumes that you didn't like the recommended food choice."
)

Read = Callable[[str], str]
Write = Callable[[str], None]


def run_console(ranker: Ranker, menu: Menu, *, read: Read = input, write: Write = print) -> None:
    """Ask taste and time of day, rank, ask y/n, reward 1/0; Q (or end of input) quits."""
    try:
        while True:
            run_round(ranker, menu, read, write)
            if read(QUIT_PROMPT).strip().lower() == "q":
                return
    except (EOFError, KeyboardInterrupt):
        write("")


def run_round(ranker: Ranker, menu: Menu, read: Read, write: Write) -> None:
    """One Rank and one Reward, as the quickstart's loop body."""
    taste = _choose(read, write, TASTE_PROMPT, TASTES)
    time_of_day = _choose(read, write, TIME_PROMPT, TIMES_OF_DAY)
    event_id = str(uuid.uuid4())
    request = RankRequest(
        context_features=context_features(taste, time_of_day, CONSOLE_USER),
        actions=menu.actions(),
        # The craving counts here as in Slack (same learner, same contexts); the printout stays the quickstart's.
        excluded_actions=menu.excluded_for(taste),
        event_id=event_id,
    )
    try:
        response = ranker.rank(request)
    except Exception:
        logger.exception("rank failed")
        write("Sorry, the ranker is not answering right now. Please try again.")
        return
    write("Personalizer service ranked the actions with the probabilities listed below:")
    for ranked in response.ranking:
        write(f"{ranked.id} : {ranked.probability}")
    write(f"Personalizer thinks you would like to have {response.reward_action_id}.")
    answer = read(ANSWER_PROMPT)[:1].lower()
    if answer not in ("y", "n"):
        write(INVALID_ANSWER)
    try:
        ranker.reward(event_id, 1.0 if answer == "y" else 0.0)
    except Exception:
        logger.exception("reward failed")
        write("Sorry, that answer could not be recorded.")


def _choose(read: Read, write: Write, prompt: str, values: list[str]) -> str:
    """The quickstart's numbered prompt: an invalid answer falls back to the first value, with its message."""
    raw = read(prompt)
    try:
        number = int(raw)
        if number <= 0 or number > len(values):
            raise IndexError
        return values[number - 1]
    except (ValueError, IndexError):
        write(f"Entered value is invalid. Setting feature value to {values[0]}.")
        return values[0]

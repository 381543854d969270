"""A world where action IDs carry nothing: a fresh set of actions, never seen before, at every step.

Four readers, morning or evening, are offered 8 new articles at each step (IDs unique to the step), each
with a `genre` (6) and a `length` (short, long). Each reader, at each time of day, likes one genre and one
length: 👍 with probability 0.9 on an article with both, 0.3 with the genre only, 0.05 otherwise. After
`switch_at` every reader's likes are drawn anew. Like bench/worlds.py, every draw (readers, offers, dice)
comes from the random seed before any policy acts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from bench.worlds import Action, Features

READERS = ["ana", "ben", "chloe", "dev"]
TIMES = ["morning", "evening"]
GENRES = ["news", "sports", "music", "food", "travel", "science"]
LENGTHS = ["short", "long"]
OFFERED = 8
P_BOTH, P_GENRE, P_OTHER = 0.9, 0.3, 0.05


@dataclass(frozen=True)
class FreshEpisode:
    """One seeded run: the context, the offered actions and the click die at each step."""

    world: FreshWorld
    contexts: list[Features]
    situations: list[tuple[str, str]]
    offers: list[list[Action]]
    dice: list[float]

    def reward(self, step: int, action_id: str) -> float:
        """1.0 if the article chosen at this step is clicked, else 0.0."""
        return 1.0 if self.dice[step] < self._probability(step, action_id) else 0.0

    def best_expected(self, step: int) -> float:
        """The click probability of the best article offered at this step."""
        return max(self._probability(step, a.id) for a in self.offers[step])

    def _probability(self, step: int, action_id: str) -> float:
        action = next(a for a in self.offers[step] if a.id == action_id)
        genre, length = action.features[0]["genre"], action.features[0]["length"]
        return self.world.click_probability(step, self.situations[step], genre, length)


class FreshWorld:
    """Readers and articles described by genre and length; the articles' IDs are new at every step."""

    name = "fresh"
    steps = 10_000
    switch_at = 5_000

    def __init__(self, taste_seed: int = 11) -> None:
        rng = random.Random(taste_seed)
        self.likes = [
            {(r, t): (rng.choice(GENRES), rng.choice(LENGTHS)) for r in READERS for t in TIMES}
            for _ in range(2)
        ]

    def click_probability(self, step: int, situation: tuple[str, str], genre: str, length: str) -> float:
        """How likely this reader is to click an article of this genre and length at this step."""
        liked_genre, liked_length = self.likes[0 if step < self.switch_at else 1][situation]
        if genre != liked_genre:
            return P_OTHER
        return P_BOTH if length == liked_length else P_GENRE

    def episode(self, seed: int) -> FreshEpisode:
        """Draw the whole run for this seed, independent of any policy."""
        rng = random.Random(seed)
        situations = [(rng.choice(READERS), rng.choice(TIMES)) for _ in range(self.steps)]
        offers = [
            [
                Action(
                    f"s{step}-{j}-{rng.getrandbits(32):08x}",
                    [{"genre": rng.choice(GENRES), "length": rng.choice(LENGTHS)}],
                )
                for j in range(OFFERED)
            ]
            for step in range(self.steps)
        ]
        dice = [rng.random() for _ in range(self.steps)]
        contexts = [[{"user": r}, {"time_of_day": t}] for r, t in situations]
        return FreshEpisode(self, contexts, situations, offers, dice)

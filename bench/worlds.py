"""Simulated worlds for the learning benchmarks: VW's tutorial world and a dinner world of our own.

A world knows nothing of Vowpal Wabbit or of the learner: it hands out contexts and actions in
Personalizer's shape and says whether the chosen action was clicked. Every random draw comes from the random seed
and is made before any policy acts (`World.episode`), so every policy in a run faces the same users, times
and dice.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

Features = list[dict[str, Any]]


@dataclass(frozen=True)
class Action:
    """A choice with Personalizer-style features (the same shape as bot.personalizer.base.RankableAction)."""

    id: str
    features: Features


@dataclass(frozen=True)
class Episode:
    """One seeded run of a world: the context at each step and the die thrown for the click at each step."""

    world: World
    contexts: list[Features]
    situations: list[tuple[str, ...]]
    dice: list[float]

    def reward(self, step: int, action_id: str) -> float:
        """1.0 if the action chosen at this step is clicked (👍), else 0.0."""
        return (
            1.0
            if self.dice[step] < self.world.click_probability(step, self.situations[step], action_id)
            else 0.0
        )

    def best_expected(self, step: int) -> float:
        """The click probability of the best action at this step: what an oracle would average."""
        return max(
            self.world.click_probability(step, self.situations[step], a.id) for a in self.world.actions
        )


class World:
    """Base of the worlds: `steps` steps, preferences change at step `switch_at` (0-based)."""

    name = "world"
    steps = 10_000
    switch_at = 5_000
    actions: list[Action]

    def draw_situation(self, rng: random.Random) -> tuple[str, ...]:
        raise NotImplementedError

    def context_features(self, situation: tuple[str, ...]) -> Features:
        raise NotImplementedError

    def click_probability(self, step: int, situation: tuple[str, ...], action_id: str) -> float:
        raise NotImplementedError

    def episode(self, seed: int) -> Episode:
        """Draw the whole run for this seed: contexts and click dice, independent of any policy."""
        rng = random.Random(seed)
        situations = [self.draw_situation(rng) for _ in range(self.steps)]
        dice = [rng.random() for _ in range(self.steps)]
        return Episode(self, [self.context_features(s) for s in situations], situations, dice)


# --- VW's tutorial: "Simulating content personalization with contextual bandits" ----------------------------

ARTICLES = ["politics", "sports", "music", "food", "finance", "health", "camping"]
TUTORIAL_BEFORE = {
    ("Tom", "morning"): "politics",
    ("Tom", "afternoon"): "music",
    ("Anna", "morning"): "sports",
    ("Anna", "afternoon"): "politics",
}
TUTORIAL_AFTER = {
    ("Tom", "morning"): "politics",
    ("Tom", "afternoon"): "sports",
    ("Anna", "morning"): "sports",
    ("Anna", "afternoon"): "sports",
}


class TutorialWorld(World):
    """Tom and Anna, morning or afternoon (uniform), 7 articles; a click only on the liked article, always."""

    name = "tutorial"

    def __init__(self) -> None:
        self.actions = [Action(a, [{"article": a}]) for a in ARTICLES]

    def draw_situation(self, rng: random.Random) -> tuple[str, ...]:
        return (rng.choice(["Tom", "Anna"]), rng.choice(["morning", "afternoon"]))

    def context_features(self, situation: tuple[str, ...]) -> Features:
        user, time_of_day = situation
        return [{"user": user}, {"time_of_day": time_of_day}]

    def click_probability(self, step: int, situation: tuple[str, ...], action_id: str) -> float:
        liked = (TUTORIAL_BEFORE if step < self.switch_at else TUTORIAL_AFTER)[situation]  # type: ignore[index]
        return 1.0 if action_id == liked else 0.0


# --- Our dinner world over the Personalizer quickstart's context ---------------------------------------------------

# (id, taste, spice_level, nutrition_level, cuisine): the quickstart's feature names, a bigger menu.
MENU = [
    ("pasta", "salty", "medium", 5, "italian"),
    ("pizza", "salty", "low", 3, "italian"),
    ("tiramisu", "sweet", "none", 2, "italian"),
    ("ramen", "salty", "medium", 4, "japanese"),
    ("sushi", "salty", "low", 6, "japanese"),
    ("mochi", "sweet", "none", 2, "japanese"),
    ("tacos", "salty", "hot", 5, "mexican"),
    ("churros", "sweet", "none", 1, "mexican"),
    ("curry", "salty", "hot", 6, "indian"),
    ("lassi", "sweet", "none", 4, "indian"),
    ("salad", "salty", "none", 8, "american"),
    ("pancakes", "sweet", "none", 3, "american"),
    ("ice cream", "sweet", "none", 2, "american"),
    ("stir fry", "salty", "hot", 7, "chinese"),
    ("fruit bowl", "sweet", "none", 9, "chinese"),
]
PEOPLE = ["ana", "ben", "chloe", "dev", "eli", "fatima", "gus", "hana"]
TIMES = ["morning", "afternoon", "evening", "night"]
CUISINES = sorted({dish[4] for dish in MENU})
SPICE = {"none": 0, "low": 1, "medium": 2, "hot": 3}
LIKED_PER_SITUATION = 2
P_THUMBS_UP_LIKED = 0.9
P_THUMBS_UP_OTHER = 0.05


class DinnerWorld(World):
    """Eight people ask for dinner; each likes 2 dishes per (taste, time) situation, decided by hidden tastes.

    A person's hidden tastes: an affinity for each cuisine, a spice tolerance, and how much they care for
    nutrition. A dish's appeal in a situation adds these to a strong bonus when its taste matches the asked
    taste_preference, a time-of-day effect on nutritious dishes, and a little noise. The person likes the two
    most appealing dishes: 👍 with probability 0.9 on a liked dish, 0.05 on any other. Each person mostly
    asks for one taste (70%). At `switch_at` every person's hidden tastes are drawn anew.
    """

    name = "dinner"

    def __init__(self, taste_seed: int = 7) -> None:
        self.actions = [
            Action(d, [{"taste": t, "spice_level": s}, {"nutrition_level": n, "cuisine": c}])
            for d, t, s, n, c in MENU
        ]
        rng = random.Random(taste_seed)
        self.usual_taste = {p: rng.choice(["salty", "sweet"]) for p in PEOPLE}
        self.liked = [self._draw_likes(rng), self._draw_likes(rng)]

    def _draw_likes(self, rng: random.Random) -> dict[tuple[str, ...], set[str]]:
        liked: dict[tuple[str, ...], set[str]] = {}
        for person in PEOPLE:
            affinity = {c: rng.gauss(0.0, 1.0) for c in CUISINES}
            spice_tolerance = rng.choice([0, 1, 2, 3])
            nutrition_care = rng.uniform(-0.2, 0.3)
            for taste in ("salty", "sweet"):
                for hour, time_of_day in enumerate(TIMES):
                    appeal = {}
                    for dish, dish_taste, spice, nutrition, cuisine in MENU:
                        score = affinity[cuisine] + nutrition_care * nutrition
                        score += 3.0 if dish_taste == taste else 0.0
                        score -= 0.8 * max(0, SPICE[spice] - spice_tolerance)
                        score += (
                            0.15 * (hour - 1.5) * (nutrition - 5) / 2
                        )  # nutritious dishes suit late hours
                        appeal[dish] = score + rng.gauss(0.0, 0.3)
                    ranked = sorted(appeal, key=appeal.__getitem__, reverse=True)
                    liked[(person, taste, time_of_day)] = set(ranked[:LIKED_PER_SITUATION])
        return liked

    def draw_situation(self, rng: random.Random) -> tuple[str, ...]:
        person = rng.choice(PEOPLE)
        usual = self.usual_taste[person]
        taste = usual if rng.random() < 0.7 else ("sweet" if usual == "salty" else "salty")
        return (person, taste, rng.choice(TIMES))

    def context_features(self, situation: tuple[str, ...]) -> Features:
        person, taste, time_of_day = situation
        return [{"user": person}, {"taste_preference": taste, "time_of_day": time_of_day}]

    def click_probability(self, step: int, situation: tuple[str, ...], action_id: str) -> float:
        liked = self.liked[0 if step < self.switch_at else 1][situation]
        return P_THUMBS_UP_LIKED if action_id in liked else P_THUMBS_UP_OTHER


WORLDS: dict[str, type[World]] = {"tutorial": TutorialWorld, "dinner": DinnerWorld}

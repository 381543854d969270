"""A seeded world and its log, written straight into the loop's event table, for evaluation tests and benches.

Five people, two times of day and five dishes; each (person, time) has one dish they like (clicked with
probability LIKED, every other dish with probability OTHER). The log is what a uniformly exploring
application would have recorded: every dish equally likely (probability 1/5), reward drawn from the world,
every event learned. `flat=True` makes every dish equally good: no policy can do better than another.
"""

from __future__ import annotations

import json
import random
from typing import Any

from sqlalchemy import Engine, insert

from bot.personalizer.local import store

PEOPLE = ("ana", "ben", "chen", "dara", "eli")
TIMES = ("noon", "night")
DISHES = ("pasta", "ramen", "salad", "tacos", "curry")
LIKED, OTHER = 0.8, 0.1


def liked(person: str, time: str) -> str:
    """The dish this person likes at this time."""
    return DISHES[(PEOPLE.index(person) * 2 + TIMES.index(time)) % len(DISHES)]


def actions() -> list[dict[str, Any]]:
    """The dishes as logged: id and features."""
    return [{"id": d, "features": [{"cuisine": d, "noise": i % 2}]} for i, d in enumerate(DISHES)]


def log_events(
    engine: Engine,
    count: int,
    *,
    seed: int = 1,
    start: float = 1_700_000_000.0,
    step: float = 6.0,
    flat: bool = False,
) -> tuple[float, float]:
    """Write `count` learned events ranked `step` seconds apart; the [start, end) they span."""
    rng = random.Random(seed)
    dishes = json.dumps(actions())
    rows = []
    with engine.begin() as conn:
        for index in range(count):
            person, time = rng.choice(PEOPLE), rng.choice(TIMES)
            chosen = rng.choice(DISHES)
            chance = 0.4 if flat else (LIKED if chosen == liked(person, time) else OTHER)
            reward = 1.0 if rng.random() < chance else 0.0
            at = start + index * step
            rows.append(
                {
                    "event_id": f"ev-{seed}-{index}",
                    "ranked_at": at,
                    "deadline": at + 600.0,
                    "context": json.dumps([{"user": person}, {"time_of_day": time}, {"_ignored": 1}]),
                    "actions": dishes,
                    "excluded": "[]",
                    "chosen_id": chosen,
                    "probability": 1.0 / len(DISHES),
                    "mode": "Online",
                    "baseline_id": DISHES[0],
                    "deferred": False,
                    "first_reward": reward,
                    "reward_sum": reward,
                    "reward_count": 1,
                    "state": store.LEARNED,
                    "learned_value": reward,
                    "learned_at": at + 1.0,
                }
            )
            if len(rows) == 5000:
                conn.execute(insert(store.events), rows)
                rows = []
        if rows:
            conn.execute(insert(store.events), rows)
    return start, start + count * step

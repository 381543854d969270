"""Multi-slot learning: a main-dish slot and a dessert slot, learned by one multi-slot loop
(`--ccb_explore_adf`) beside two single-slot loops (one per slot) and uniform choice, in one run.

The world: 6 people ask for dinner in the evening or at night; the menu has 6 mains and 5 desserts (each
with `course`, `cuisine` and one more feature), all offered to both slots. For each person and time a hidden
taste picks one liked main and one liked dessert: a slot's 👍 comes with probability 0.9 when it shows the
liked dish of its course, 0.05 otherwise (a dessert in the main slot is no main). After step `switch_at`
every taste is drawn anew. Every draw comes from the random seed before any player acts.

Each loop runs as bench/bench_learning.py runs the learner: SQLite, an injected clock at 10 ranks/s, a
model published every second, both slots' rewards sent within the step.

    .venv/bin/python bench/bench_multislot.py --seeds 3
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.personalizer.base import (  # noqa: E402
    MultiSlotRankRequest,
    RankableAction,
    RankRequest,
    SlotRequest,
    SlotReward,
)
from bot.personalizer.local import DEFAULT_POLICY, LoopSettings, open_learning_loop  # noqa: E402

STEPS, SWITCH_AT, LAST = 10_000, 5_000, 1_000
STEP_SECONDS = 0.1
MODEL_UPDATE_FREQUENCY = 1.0
START = 1_800_000_000.0
PEOPLE = ["ana", "ben", "chloe", "dev", "eli", "fatima"]
TIMES = ["evening", "night"]
MAINS = [
    ("pasta", "italian", "medium"), ("ramen", "japanese", "medium"), ("tacos", "mexican", "hot"),
    ("curry", "indian", "hot"), ("salad", "american", "none"), ("stir fry", "chinese", "low"),
]  # fmt: skip
DESSERTS = [
    ("tiramisu", "italian", "rich"), ("mochi", "japanese", "light"), ("churros", "mexican", "rich"),
    ("lassi", "indian", "light"), ("ice cream", "american", "rich"),
]  # fmt: skip
SLOTS = [
    SlotRequest(id="main", features=[{"course": "main"}], baseline_action="pasta"),
    SlotRequest(id="dessert", features=[{"course": "dessert"}], baseline_action="tiramisu"),
]
P_LIKED, P_OTHER = 0.9, 0.05
ACTIONS = [RankableAction(d, [{"course": "main", "cuisine": c, "spice": s}]) for d, c, s in MAINS] + [
    RankableAction(d, [{"course": "dessert", "cuisine": c, "texture": t}]) for d, c, t in DESSERTS
]
MULTISLOT_DEFAULT = DEFAULT_POLICY.replace("--cb_explore_adf", "--ccb_explore_adf")
MICROSOFT_MULTISLOT = "--ccb_explore_adf --epsilon 0.2 --power_t 0 -l 0.001 --cb_type mtr -q ::"


@dataclass(frozen=True)
class Episode:
    """The situations and both slots' dice of one seeded run, and the liked dishes before and after."""

    situations: list[tuple[str, str]]
    dice: list[tuple[float, float]]
    liked: list[dict[tuple[str, str], tuple[str, str]]]

    def rewards(self, step: int, main: str, dessert: str) -> tuple[float, float]:
        """The 👍 (1.0) or not (0.0) of the main slot and of the dessert slot at this step."""
        liked_main, liked_dessert = self.liked[0 if step < SWITCH_AT else 1][self.situations[step]]
        p_main = P_LIKED if main == liked_main else P_OTHER
        p_dessert = P_LIKED if dessert == liked_dessert else P_OTHER
        die_main, die_dessert = self.dice[step]
        return float(die_main < p_main), float(die_dessert < p_dessert)

    def context(self, step: int) -> list[dict]:
        """The rank's context features at this step."""
        person, time_of_day = self.situations[step]
        return [{"user": person}, {"time_of_day": time_of_day}]


def episode(seed: int) -> Episode:
    """Draw a whole run from the random seed."""
    rng = random.Random(seed)
    liked = [
        {(p, t): (rng.choice(MAINS)[0], rng.choice(DESSERTS)[0]) for p in PEOPLE for t in TIMES}
        for _ in range(2)
    ]
    situations = [(rng.choice(PEOPLE), rng.choice(TIMES)) for _ in range(STEPS)]
    dice = [(rng.random(), rng.random()) for _ in range(STEPS)]
    return Episode(situations, dice, liked)


class Clock:
    """The injected clock: 0.1 s per step."""

    def __init__(self) -> None:
        self.ticks = 0

    def __call__(self) -> float:
        return START + self.ticks * STEP_SECONDS


def _loop(workdir: str, name: str, policy: str, exploration: float, clock: Clock):  # type: ignore[no-untyped-def]
    settings = LoopSettings(
        model_export_frequency=MODEL_UPDATE_FREQUENCY, policy=policy, exploration_percentage=exploration
    )
    return open_learning_loop(
        f"sqlite:///{os.path.join(workdir, name)}.db", settings, clock=clock, run_trainer=False
    )


def play_multislot(
    run: Episode, policy: str, exploration: float, workdir: str, tag: str
) -> list[tuple[float, float]]:
    """One multi-slot loop ranks both slots at each step and gets both slots' rewards."""
    clock = Clock()
    loop = _loop(workdir, f"multi-{tag}", policy, exploration, clock)
    out = []
    try:
        for step in range(STEPS):
            request = MultiSlotRankRequest(run.context(step), ACTIONS, SLOTS, event_id=f"{tag}-{step}")
            result = loop.rank_multislot(request)
            chosen = {slot.id: slot.reward_action_id for slot in result.slots}
            main, dessert = run.rewards(step, chosen["main"], chosen["dessert"])
            loop.reward_multislot(result.event_id, [SlotReward("main", main), SlotReward("dessert", dessert)])
            out.append((main, dessert))
            clock.ticks += 1
            if clock.ticks % round(MODEL_UPDATE_FREQUENCY / STEP_SECONDS) == 0:
                loop.train_once()
    finally:
        loop.close()
    return out


def play_per_slot(run: Episode, exploration: float, workdir: str, tag: str) -> list[tuple[float, float]]:
    """Two single-slot loops, one per slot (the slot's features joined to the context); the dessert loop
    excludes the dish the main loop chose."""
    clock = Clock()
    loops = {
        slot.id: _loop(workdir, f"single-{slot.id}-{tag}", DEFAULT_POLICY, exploration, clock)
        for slot in SLOTS
    }
    out = []
    try:
        for step in range(STEPS):
            chosen: dict[str, str] = {}
            for slot in SLOTS:
                request = RankRequest(
                    run.context(step) + slot.features,
                    ACTIONS,
                    excluded_actions=list(chosen.values()),
                    event_id=f"{tag}-{slot.id}-{step}",
                )
                chosen[slot.id] = loops[slot.id].rank(request).reward_action_id
            main, dessert = run.rewards(step, chosen["main"], chosen["dessert"])
            loops["main"].reward(f"{tag}-main-{step}", main)
            loops["dessert"].reward(f"{tag}-dessert-{step}", dessert)
            out.append((main, dessert))
            clock.ticks += 1
            if clock.ticks % round(MODEL_UPDATE_FREQUENCY / STEP_SECONDS) == 0:
                for loop in loops.values():
                    loop.train_once()
    finally:
        for loop in loops.values():
            loop.close()
    return out


def play_uniform(run: Episode, seed: int) -> list[tuple[float, float]]:
    """Two different dishes drawn uniformly for the two slots."""
    rng = random.Random(seed + 99)
    out = []
    for step in range(STEPS):
        main, dessert = rng.sample([a.id for a in ACTIONS], 2)
        out.append(run.rewards(step, main, dessert))
    return out


def oracle(run: Episode) -> list[tuple[float, float]]:
    """The expected rewards of always showing the liked dishes."""
    return [(P_LIKED, P_LIKED)] * STEPS


def summary(runs: list[list[tuple[float, float]]]) -> str:
    """Mean CTR per slot over the first half and the last 1000 steps, mean of the seeds."""

    def mean(values: list[float]) -> float:
        return sum(values) / len(values)

    cells = []
    for part in (slice(0, SWITCH_AT), slice(STEPS - LAST, STEPS)):
        for slot in (0, 1):
            cells.append(mean([mean([r[slot] for r in run[part]]) for run in runs]))
    return " | ".join(f"{c:.3f}" for c in cells)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--exploration", type=float, default=0.2)
    options = parser.parse_args()
    players = {
        f"multi-slot loop, `{MULTISLOT_DEFAULT}`": lambda run, s, w: play_multislot(
            run, MULTISLOT_DEFAULT, options.exploration, w, f"d{s}"
        ),
        f"multi-slot loop, Microsoft's `{MICROSOFT_MULTISLOT}`": lambda run, s, w: play_multislot(
            run, MICROSOFT_MULTISLOT, options.exploration, w, f"m{s}"
        ),
        "two single-slot loops (default policy), one per slot": lambda run, s, w: play_per_slot(
            run, options.exploration, w, f"p{s}"
        ),
        "uniform choice": lambda run, s, w: play_uniform(run, s),
        "best possible (expected, oracle)": lambda run, s, w: oracle(run),
    }
    print(
        f"exploration {options.exploration:.0%}, {options.seeds} seeds, {STEPS} steps, switch at {SWITCH_AT}\n"
    )
    print(
        "| player | main, first 5000 | dessert, first 5000 | main, last 1000 | dessert, last 1000 | secs/run |"
    )
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as workdir:
        for name, play in players.items():
            started = time.perf_counter()
            runs = [play(episode(seed), seed, workdir) for seed in range(options.seeds)]
            seconds = (time.perf_counter() - started) / options.seeds
            print(f"| {name} | {summary(runs)} | {seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main()

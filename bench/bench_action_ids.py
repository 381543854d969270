"""The action ID as a feature, measured: the learner with and without `--action_id_feature`.

Two worlds: the dinner world (bench/worlds.py), where the same 15 dishes come back at every step and a
dish's ID lets the model remember it per person, and the fresh world (bench/worlds_fresh.py), where every
step offers 8 articles never seen before, so IDs carry nothing. Each is played through the learner's own
rank and reward calls as bench/bench_learning.py plays it: SQLite, an injected clock at 10 ranks/s, a model
published every second.

    .venv/bin/python bench/bench_action_ids.py --seeds 3
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.worlds import DinnerWorld  # noqa: E402
from bench.worlds_fresh import FreshWorld  # noqa: E402
from bot.personalizer.base import RankableAction, RankRequest  # noqa: E402
from bot.personalizer.local.loop import open_learning_loop  # noqa: E402
from bot.personalizer.local.policy import ACTION_ID_OPTION  # noqa: E402
from bot.personalizer.local.settings import DEFAULT_POLICY, LoopSettings  # noqa: E402

STEP_SECONDS = 0.1
MODEL_UPDATE_FREQUENCY = 1.0
START = 1_800_000_000.0
SWITCH_AT, LAST = 5000, 1000


def without_ids(policy: str) -> str:
    """The policy without the action-ID option."""
    return " ".join(w for w in policy.split() if w != ACTION_ID_OPTION)


def play(
    name: str,
    contexts: Sequence[list[dict]],
    offers: Callable[[int], list[RankableAction]],
    reward: Callable[[int, str], float],
    policy: str,
    exploration: float,
    workdir: str,
) -> list[float]:
    """Play one episode through LearningLoop.rank/reward with an injected clock; the reward of each step."""
    ticks = [0]
    database = os.path.join(workdir, f"{name}-{abs(hash((policy, exploration)))}.db")
    settings = LoopSettings(
        model_export_frequency=MODEL_UPDATE_FREQUENCY, policy=policy, exploration_percentage=exploration
    )
    loop = open_learning_loop(
        f"sqlite:///{database}", settings, clock=lambda: START + ticks[0] * STEP_SECONDS, run_trainer=False
    )
    steps_per_update = round(MODEL_UPDATE_FREQUENCY / STEP_SECONDS)
    rewards: list[float] = []
    try:
        for step, context in enumerate(contexts):
            result = loop.rank(RankRequest(context, offers(step), event_id=f"{name}-{step}"))
            value = reward(step, result.reward_action_id)
            loop.reward(result.event_id, value)
            rewards.append(value)
            ticks[0] += 1
            if ticks[0] % steps_per_update == 0:
                loop.train_once()
    finally:
        loop.close()
    return rewards


def run_world(world: str, seed: int, policy: str, exploration: float, workdir: str) -> list[float]:
    """One seed of one world with one policy."""
    if world == "dinner":
        episode = DinnerWorld().episode(seed)
        actions = [RankableAction(a.id, a.features) for a in episode.world.actions]
        return play(
            f"dinner-{seed}",
            episode.contexts,
            lambda _s: actions,
            episode.reward,
            policy,
            exploration,
            workdir,
        )
    fresh = FreshWorld().episode(seed)
    offers = [[RankableAction(a.id, a.features) for a in offer] for offer in fresh.offers]
    return play(
        f"fresh-{seed}", fresh.contexts, offers.__getitem__, fresh.reward, policy, exploration, workdir
    )


def oracle(world: str, seed: int) -> list[float]:
    """The best expected click rate at each step."""
    if world == "dinner":
        episode = DinnerWorld().episode(seed)
        return [episode.best_expected(t) for t in range(episode.world.steps)]
    fresh = FreshWorld().episode(seed)
    return [fresh.best_expected(t) for t in range(fresh.world.steps)]


def scores(rewards: list[float]) -> tuple[float, float]:
    """CTR over the steps before the switch and over the last 1000."""
    return sum(rewards[:SWITCH_AT]) / SWITCH_AT, sum(rewards[-LAST:]) / LAST


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--worlds", default="dinner,fresh")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--exploration", default="0.2,0")
    options = parser.parse_args()
    base = without_ids(DEFAULT_POLICY)
    policies = {"without the ID": base, "with the ID (`--action_id_feature`)": f"{base} {ACTION_ID_OPTION}"}
    print(f"policy: {base}")
    print(
        "\n| world | action ID | exploration | CTR over first 5000 | CTR over last 1000 | worst seed | secs/run |"
    )
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as workdir:
        for world in options.worlds.split(","):
            for exploration in (float(x) for x in options.exploration.split(",")):
                for label, policy in policies.items():
                    runs, seconds = [], 0.0
                    for seed in range(options.seeds):
                        started = time.perf_counter()
                        runs.append(scores(run_world(world, seed, policy, exploration, workdir)))
                        seconds += time.perf_counter() - started
                    first = sum(f for f, _ in runs) / len(runs)
                    last = sum(x for _, x in runs) / len(runs)
                    worst = f"{min(f for f, _ in runs):.3f} / {min(x for _, x in runs):.3f}"
                    print(
                        f"| {world} | {label} | {exploration:.0%} | {first:.3f} | {last:.3f} | {worst} "
                        f"| {seconds / len(runs):.1f} |",
                        flush=True,
                    )
            best = [scores(oracle(world, s)) for s in range(options.seeds)]
            print(
                f"| {world} | best possible (oracle) | | {sum(f for f, _ in best) / len(best):.3f} "
                f"| {sum(x for _, x in best) / len(best):.3f} | | |",
                flush=True,
            )


if __name__ == "__main__":
    main()

"""Learning quality: each world played through the learner's own rank and reward calls, beside raw VW.

The learner runs as the service would: `open_learning_loop` on a temporary SQLite file, default settings
except a model update frequency of 1 s, and an injected clock. Traffic assumption: 10 ranks per second
(the clock advances 0.1 s per step), each reward (1 on a click, else 0, sent explicitly) arriving within the
step, and `train_once()` called each time the clock passes the model update frequency, as the background
trainer would: so rank serves a model published up to 10 events ago. The references are raw VW as the
tutorial runs it (predict, then learn after every step) with the same featurization, and uniform choice.
Every player faces the same contexts and click dice for a seed.

    .venv/bin/python bench/bench_learning.py --seeds 3
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.policy_search import (  # noqa: E402
    PERSONALIZER_DEFAULT,
    SQUARECB,
    TUTORIAL,
    ctr_first_and_last,
    play_raw_vw,
)
from bench.worlds import WORLDS, Episode  # noqa: E402
from bot.personalizer.base import RankableAction, RankRequest  # noqa: E402
from bot.personalizer.local.loop import open_learning_loop  # noqa: E402
from bot.personalizer.local.settings import DEFAULT_POLICY, LoopSettings  # noqa: E402

STEP_SECONDS = 0.1
MODEL_UPDATE_FREQUENCY = 1.0
START = 1_800_000_000.0
DOCS = Path(__file__).resolve().parent.parent / "docs"

LEARNER = "learner, default policy, exploration {:.0%} (rank/reward API, SQLite, 1 s model updates)"
REFERENCES = {
    "raw VW: tutorial `--epsilon 0.2 -q CA`": TUTORIAL,
    "raw VW: Personalizer's default policy": PERSONALIZER_DEFAULT,
    "raw VW: `--squarecb -q CA`": SQUARECB,
    "uniform choice": "uniform",
}


def play_learner(
    episode: Episode, seed: int, workdir: str, policy: str, exploration: float = 0.2
) -> list[float]:
    """Play an episode through LearningLoop.rank/reward on SQLite with an injected clock."""
    world = episode.world
    ticks = [0]

    def clock() -> float:
        return START + ticks[0] * STEP_SECONDS

    steps_per_update = round(MODEL_UPDATE_FREQUENCY / STEP_SECONDS)
    database = os.path.join(workdir, f"learner-{world.name}-{seed}-{abs(hash((policy, exploration)))}.db")
    settings = LoopSettings(
        model_export_frequency=MODEL_UPDATE_FREQUENCY, policy=policy, exploration_percentage=exploration
    )
    loop = open_learning_loop(f"sqlite:///{database}", settings, clock=clock, run_trainer=False)
    actions = [RankableAction(a.id, a.features) for a in world.actions]
    rewards: list[float] = []
    try:
        for step, context in enumerate(episode.contexts):
            result = loop.rank(RankRequest(context, actions, event_id=f"{world.name}-{seed}-{step}"))
            reward = episode.reward(step, result.reward_action_id)
            loop.reward(result.event_id, reward)
            rewards.append(reward)
            ticks[0] += 1
            if ticks[0] % steps_per_update == 0:
                loop.train_once()
    finally:
        loop.close()
    return rewards


def _play(job: tuple[str, str, str, int, str]) -> tuple[str, str, int, list[float], float]:
    world_name, player, args, seed, workdir = job
    episode = WORLDS[world_name]().episode(seed)
    started = time.perf_counter()
    if player.startswith("learner"):
        policy, _, exploration = args.rpartition("@")
        rewards = play_learner(episode, seed, workdir, policy, float(exploration))
    else:
        rewards = play_raw_vw(episode, args, 0, seed, workdir).rewards
    return world_name, player, seed, rewards, time.perf_counter() - started


def running_ctr(rewards: list[float], window: int) -> list[float]:
    """The CTR of the last `window` steps at every step (fewer at the start)."""
    out, total = [], 0.0
    for i, r in enumerate(rewards):
        total += r
        if i >= window:
            total -= rewards[i - window]
        out.append(total / min(i + 1, window))
    return out


def plot(world_name: str, curves: dict[str, list[float]], oracle: list[float], path: Path) -> None:
    """Running CTR (mean over seeds, 250-step window) of every player, with the switch marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    world = WORLDS[world_name]()
    fig, ax = plt.subplots(figsize=(9, 6))
    for name, rewards in curves.items():
        ax.plot(running_ctr(rewards, 250), label=name, linewidth=1.6 if name.startswith("learner") else 1.0)
    ax.plot(running_ctr(oracle, 250), label="best possible (oracle)", color="black", linestyle=":")
    ax.axvline(world.switch_at, color="grey", linestyle="--", linewidth=0.8)
    ax.text(world.switch_at + 60, 0.03, "preferences change", color="grey")
    ax.set_xlabel("step (0.1 s apart for the learner)")
    ax.set_ylabel("CTR over the last 250 steps")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"{world_name} world: running CTR, mean of the seeds")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--worlds", default="tutorial,dinner")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--no-plots", action="store_true")
    parser.add_argument(
        "--exploration", default="0.2,0", help="explorationPercentage of each learner run, e.g. 0.2,0.05,0"
    )
    parser.add_argument("--policy", action="append", default=[], help="another learner policy to play")
    options = parser.parse_args()
    worlds = options.worlds.split(",")
    explorations = [float(x) for x in options.exploration.split(",")]
    players = {LEARNER.format(x): f"{DEFAULT_POLICY}@{x}" for x in explorations}
    for policy in options.policy:
        players.update(
            {f"learner with `{policy}`, exploration {x:.0%}": f"{policy}@{x}" for x in explorations}
        )
    players.update(REFERENCES)
    print(f"learner policy (DEFAULT_POLICY): {DEFAULT_POLICY}")
    with tempfile.TemporaryDirectory() as workdir:
        jobs = [
            (w, p, a, s, workdir) for w in worlds for p, a in players.items() for s in range(options.seeds)
        ]
        with Pool(options.processes) as pool:
            results = pool.map(_play, jobs, chunksize=1)
    for world_name in worlds:
        world = WORLDS[world_name]()
        oracle_seeds = []
        for seed in range(options.seeds):
            episode = world.episode(seed)
            oracle_seeds.append([episode.best_expected(t) for t in range(world.steps)])
        oracle = [sum(v) / options.seeds for v in zip(*oracle_seeds, strict=True)]
        print(
            f"\n**{world_name} world**, {world.steps} steps, switch at {world.switch_at}, "
            f"{options.seeds} seeds\n"
        )
        print(
            "| player | CTR over first 5000 | CTR over last 1000 after the switch | worst seed | secs/run |"
        )
        print("|---|---|---|---|---|")
        curves = {}
        for player in players:
            runs = [(r, secs) for w, p, _s, r, secs in results if w == world_name and p == player]
            scores = [ctr_first_and_last(world, r) for r, _ in runs]
            first = sum(f for f, _ in scores) / len(scores)
            last = sum(x for _, x in scores) / len(scores)
            worst = f"{min(f for f, _ in scores):.3f} / {min(x for _, x in scores):.3f}"
            secs = sum(s for _, s in runs) / len(runs)
            print(f"| {player} | {first:.3f} | {last:.3f} | {worst} | {secs:.1f} |")
            curves[player] = [sum(v) / len(runs) for v in zip(*(r for r, _ in runs), strict=True)]
        best_first, best_last = ctr_first_and_last(world, oracle)
        print(f"| best possible (expected, oracle) | {best_first:.3f} | {best_last:.3f} | | |")
        if not options.no_plots:
            DOCS.mkdir(exist_ok=True)
            plot(world_name, curves, oracle, DOCS / f"learning-{world_name}.png")
            print(f"wrote docs/learning-{world_name}.png")


if __name__ == "__main__":
    main()

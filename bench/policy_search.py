"""Search Vowpal Wabbit policies for the learner's default, in raw VW with the learner's own featurization.

The learning loop serves rank from the last *published* model and publishes every model update frequency, so
here the serving model is refreshed from the training model every k steps (k=10 is 10 ranks/s with a 1 s
frequency); before the first publication the choice is uniform, as Personalizer's is. The action is sampled
from the served distribution with a seeded generator; the reward (1 click, else 0) is learned as cost -reward
with the logged probability, at once (rewards arrive within the step).

    .venv/bin/python bench/policy_search.py --seeds 5 --k 1,10,100
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import vowpalwabbit  # noqa: E402

from bench.worlds import WORLDS, Episode, World  # noqa: E402
from bot.personalizer.local.features import action_line, context_line  # noqa: E402

# The raw-VW references of docs/benchmarks.md (the tutorial's `-q UA` is our `-q CA`: context × action).
TUTORIAL = "--cb_explore_adf -q CA --epsilon 0.2"
PERSONALIZER_DEFAULT = "--cb_explore_adf --epsilon 0.2 --power_t 0 -l 0.001 --cb_type mtr -q ::"
SQUARECB = "--cb_explore_adf -q CA --squarecb"


@dataclass
class Outcome:
    """What one policy did on one episode: the reward at every step."""

    rewards: list[float]
    seconds: float


class RawVWPolicy:
    """A VW policy served from a copy of the training model that is refreshed every `refresh_every` steps.

    refresh_every=0 serves straight from the training model (the tutorial's way: predict, then learn).
    """

    def __init__(self, args: str, refresh_every: int, workdir: str) -> None:
        self.args = args
        self.refresh_every = refresh_every
        self.train = vowpalwabbit.Workspace(args + " --quiet")
        self.serve: vowpalwabbit.Workspace | None = self.train if refresh_every == 0 else None
        self.path = os.path.join(workdir, f"model-{os.getpid()}-{id(self)}.vw")
        self.learned = 0

    def distribution(self, shared: str, action_lines: list[str]) -> list[float]:
        if self.serve is None:
            return [1.0 / len(action_lines)] * len(action_lines)
        return list(self.serve.predict([shared, *action_lines]))

    def learn(
        self, shared: str, action_lines: list[str], chosen: int, probability: float, reward: float
    ) -> None:
        lines = list(action_lines)
        lines[chosen] = f"0:{-reward}:{probability} {lines[chosen]}"
        self.train.learn([shared, *lines])
        self.learned += 1
        if self.refresh_every and self.learned % self.refresh_every == 0:
            self.publish()

    def publish(self) -> None:
        self.train.save(self.path)
        if self.serve is not None:
            self.serve.finish()
        self.serve = vowpalwabbit.Workspace(f"{self.args} -i {self.path} --quiet")

    def close(self) -> None:
        if self.serve is not None and self.serve is not self.train:
            self.serve.finish()
        self.train.finish()
        if os.path.exists(self.path):
            os.remove(self.path)


def sample(pmf: list[float], rng: random.Random) -> int:
    """Draw an index from a distribution with the given generator."""
    draw = rng.random() * sum(pmf)
    total = 0.0
    for index, p in enumerate(pmf):
        total += p
        if draw < total:
            return index
    return len(pmf) - 1


def play_raw_vw(episode: Episode, args: str, refresh_every: int, seed: int, workdir: str) -> Outcome:
    """Play an episode with a raw VW policy; uniform choice when args is 'uniform'."""
    world = episode.world
    action_lines = [action_line(a.id, a.features) for a in world.actions]
    rng = random.Random(1_000_003 * seed + 17)
    started = time.perf_counter()
    rewards: list[float] = []
    policy = None if args == "uniform" else RawVWPolicy(args, refresh_every, workdir)
    for step, context in enumerate(episode.contexts):
        shared = context_line(context)
        pmf = (
            [1.0 / len(action_lines)] * len(action_lines)
            if policy is None
            else policy.distribution(shared, action_lines)
        )
        chosen = sample(pmf, rng)
        reward = episode.reward(step, world.actions[chosen].id)
        rewards.append(reward)
        if policy is not None:
            policy.learn(shared, action_lines, chosen, pmf[chosen], reward)
    if policy is not None:
        policy.close()
    return Outcome(rewards, time.perf_counter() - started)


def ctr_first_and_last(world: World, rewards: list[float], last: int = 1000) -> tuple[float, float]:
    """CTR over the steps before the switch and over the last `last` steps."""
    before = rewards[: world.switch_at]
    return sum(before) / len(before), sum(rewards[-last:]) / last


CANDIDATES = [
    TUTORIAL,
    PERSONALIZER_DEFAULT,
    SQUARECB,
    "--cb_explore_adf -q CA --interactions CCA --squarecb",
    "--cb_explore_adf -q CA --squarecb --gamma_scale 100",
    "--cb_explore_adf -q CA --squarecb --gamma_scale 1000",
    "--cb_explore_adf -q CA --squarecb --gamma_scale 1000 --power_t 0 -l 0.1",
    "--cb_explore_adf -q CA --squarecb --gamma_scale 100 --power_t 0 -l 0.05",
    "--cb_explore_adf -q CA --squarecb --gamma_scale 1000 -l 1",
    "--cb_explore_adf -q CA --interactions CCA --squarecb --gamma_scale 1000",
    "--cb_explore_adf -q CA --regcb --mellowness 0.01",
    "--cb_explore_adf -q CA --regcbopt --mellowness 0.01",
    "--cb_explore_adf -q CA --regcbopt --mellowness 0.1",
    "--cb_explore_adf -q CA --cover 4 --psi 0.01 --nounif",
    "--cb_explore_adf -q CA --synthcover",
    "--cb_explore_adf -q CA --softmax --lambda 10",
    "--cb_explore_adf -q CA --first 50",
    "--cb_explore_adf -q CA --epsilon 0.01",
    "--cb_explore_adf -q CA --epsilon 0.05 --power_t 0 -l 0.1",
]


def _run(job: tuple[str, int, str, int, str]) -> tuple[str, int, str, int, list[float], float]:
    world_name, seed, args, k, workdir = job
    world = WORLDS[world_name]()
    outcome = play_raw_vw(world.episode(seed), args, k, seed, workdir)
    return world_name, seed, args, k, outcome.rewards, outcome.seconds


def search(worlds: Iterable[str], candidates: list[str], seeds: int, ks: list[int], processes: int) -> None:
    """Run every candidate on every world, seed and refresh interval; print mean CTRs."""
    with tempfile.TemporaryDirectory(dir="/dev/shm" if os.path.isdir("/dev/shm") else None) as workdir:
        jobs = [(w, s, a, k, workdir) for w in worlds for a in candidates for k in ks for s in range(seeds)]
        results: dict[tuple[str, str, int], list[tuple[float, float]]] = {}
        with Pool(processes) as pool:
            for world_name, _seed, args, k, rewards, _secs in pool.imap_unordered(_run, jobs):
                world = WORLDS[world_name]()
                results.setdefault((world_name, args, k), []).append(ctr_first_and_last(world, rewards))
                done = results[(world_name, args, k)]
                if len(done) == seeds:
                    first = sum(f for f, _ in done) / seeds
                    last = sum(x for _, x in done) / seeds
                    worst = min(f for f, _ in done), min(x for _, x in done)
                    print(
                        f"{world_name:8} k={k:<3} first5000={first:.3f} last1000={last:.3f} "
                        f"(worst seed {worst[0]:.3f}/{worst[1]:.3f})  {args}",
                        flush=True,
                    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--worlds", default="tutorial,dinner")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--k", default="10", help="refresh intervals, comma-separated; 0 = serve the trainer")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--policy", action="append", help="VW args to try instead of the built-in candidates")
    options = parser.parse_args()
    search(
        options.worlds.split(","),
        options.policy or CANDIDATES,
        options.seeds,
        [int(k) for k in options.k.split(",")],
        options.processes,
    )


if __name__ == "__main__":
    main()

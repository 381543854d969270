"""Search VW policies for the synthetic worlds in raw VW, replaying the service's way of learning (fast).

As bench/policy_search.py does for the tutorial and dinner worlds: the serving model is a copy of the
training model refreshed every k steps (k=10: 10 ranks/s, 1 s model updates), uniform before the first copy,
and the click is learned as cost -reward with the logged probability. `--action_id_feature` in a candidate
adds each action's fresh id to its line as the service's featurization does (`id=<id>` in namespace A);
`--exploration` mixes uniform exploration into every distribution, p = (1-ε)·pmf + ε/n. The references'
figures are printed beside the candidates. Seeds default to 10.. so the search does not tune on the
seeds bench/bench_worlds.py reports (0..).

    nice -n 15 .venv/bin/python bench/worlds_policy_search.py --seeds 4 \\
        --policy "--cb_explore_adf -q CA --interactions CCA --synthcover"
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import vowpalwabbit  # noqa: E402

from bench.worlds_references import (  # noqa: E402
    LINUCB,
    VW_REFERENCES,
    action_lines,
    draw,
    play_linucb,
    play_vw,
    shared_line,
)
from bench.worlds_synthetic import FAMILIES, SyntheticEpisode, episode  # noqa: E402

ACTION_ID = "--action_id_feature"


def replay(episode: SyntheticEpisode, policy: str, k: int, exploration: float, workdir: str) -> list[float]:
    """Play `policy` as the service would serve it: a model copy refreshed every k steps."""
    with_ids = ACTION_ID in policy.split()
    args = " ".join(w for w in policy.split() if w != ACTION_ID)
    rng = random.Random(1_000_003 * episode.seed + 17)
    train = vowpalwabbit.Workspace(args + " --quiet")
    serve = None
    path = os.path.join(workdir, "model.vw")
    rewards = []
    for step in range(episode.steps):
        shared, lines = shared_line(episode, step), action_lines(episode, step)
        if with_ids:
            ids = episode.action_ids(step)
            lines = [f"|A id={ids[i]} {line[3:]}" for i, line in enumerate(lines)]
        n = len(lines)
        pmf = [1 / n] * n if serve is None else list(serve.predict([shared, *lines]))
        pmf = [(1 - exploration) * p + exploration / n for p in pmf]
        chosen = draw(pmf, rng)
        reward = episode.reward(step, chosen)
        rewards.append(reward)
        lines[chosen] = f"0:{-reward}:{pmf[chosen]} {lines[chosen]}"
        train.learn([shared, *lines])
        if (step + 1) % k == 0:
            train.save(path)
            if serve is not None:
                serve.finish()
            serve = vowpalwabbit.Workspace(f"{args} -i {path} --quiet")
    train.finish()
    if serve is not None:
        serve.finish()
    return rewards


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--first-seed", type=int, default=10)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--k", type=int, default=10, help="serve a copy of the model refreshed every k steps")
    parser.add_argument("--exploration", type=float, default=0.0)
    parser.add_argument("--policy", action="append", required=True, help="a candidate (repeatable)")
    options = parser.parse_args()
    seeds = range(options.first_seed, options.first_seed + options.seeds)
    print(
        f"{options.seeds} seeds from {options.first_seed}, {options.steps} steps, k={options.k}, "
        f"exploration {options.exploration:g}; mean average reward"
    )
    with tempfile.TemporaryDirectory(dir="/dev/shm" if os.path.isdir("/dev/shm") else None) as workdir:
        for family in options.families.split(","):
            worlds = [episode(family, seed, options.steps) for seed in seeds]
            rows = {LINUCB: [sum(play_linucb(w)) / w.steps for w in worlds]}
            for name, args in VW_REFERENCES.items():
                rows[name] = [sum(play_vw(w, args)) / w.steps for w in worlds]
            best = max(sum(v) for v in rows.values()) / options.seeds
            for policy in options.policy:
                played = [replay(w, policy, options.k, options.exploration, workdir) for w in worlds]
                rows[f"candidate `{policy}`"] = [sum(r) / len(r) for r in played]
            for name, values in rows.items():
                average = sum(values) / len(values)
                print(
                    f"{family:9} {average:.3f}  {average / best:.3f} of the best reference  {name}",
                    flush=True,
                )


if __name__ == "__main__":
    main()

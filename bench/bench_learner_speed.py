"""Learner speed in process: rank latency with logging included, and reward ingestion, on SQLite.

Rank: `LearningLoop.rank` on a temporary SQLite file (WAL) with a published model, 8 context features and 6
features per action (as the VW reference in docs/benchmarks.md), 4 and 50 actions; each call returns only after its
event is durable. Rewards: one `LearningLoop.reward` per ranked event, sequential and from N threads.

    .venv/bin/python bench/bench_learner_speed.py
    .venv/bin/python bench/bench_learner_speed.py --profile   # where the time of one rank goes
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.personalizer.base import RankableAction, RankRequest  # noqa: E402
from bot.personalizer.local.loop import LearningLoop, open_learning_loop  # noqa: E402
from bot.personalizer.local.settings import DEFAULT_POLICY, LoopSettings  # noqa: E402

CONTEXT = [
    {"user": "ana", "taste_preference": "salty", "time_of_day": "evening", "weekday": "friday"},
    {"team": "platform", "office": "remote", "weather": "rain", "season": "winter"},
]


def actions(count: int) -> list[RankableAction]:
    """`count` actions with 6 features each."""
    cuisines = ["italian", "japanese", "mexican", "indian", "american", "chinese"]
    return [
        RankableAction(
            f"dish-{i}",
            [
                {"taste": "salty" if i % 2 else "sweet", "spice_level": ["none", "low", "hot"][i % 3]},
                {"nutrition_level": i % 10, "cuisine": cuisines[i % 6], "price": 5 + i % 7, "vegan": "no"},
            ],
        )
        for i in range(count)
    ]


def warmed_loop(database: str, action_list: list[RankableAction]) -> LearningLoop:
    """A loop on SQLite that has learned 200 events and serves the published model."""
    loop = open_learning_loop(f"sqlite:///{database}", LoopSettings(), run_trainer=False)
    for i in range(200):
        result = loop.rank(RankRequest(CONTEXT, action_list, event_id=f"warm-{i}"))
        loop.reward(result.event_id, 1.0 if i % 3 == 0 else 0.0)
    loop.train_once()
    return loop


def rank_latency(workdir: str, count: int, samples: int) -> list[float]:
    """Milliseconds per rank call, `samples` calls after the warm-up."""
    action_list = actions(count)
    loop = warmed_loop(os.path.join(workdir, f"rank-{count}.db"), action_list)
    try:
        timings = []
        for i in range(samples):
            request = RankRequest(CONTEXT, action_list, event_id=f"lat-{count}-{i}")
            started = time.perf_counter()
            loop.rank(request)
            timings.append((time.perf_counter() - started) * 1000)
        return timings
    finally:
        loop.close()


def reward_rate(workdir: str, events: int, threads: int) -> float:
    """Rewards accepted per second for `events` ranked events, from `threads` threads (1: sequential)."""
    action_list = actions(4)
    loop = warmed_loop(os.path.join(workdir, f"reward-{threads}.db"), action_list)
    try:
        ids = [
            loop.rank(RankRequest(CONTEXT, action_list, event_id=f"rw-{i}")).event_id for i in range(events)
        ]
        started = time.perf_counter()
        if threads == 1:
            for event_id in ids:
                loop.reward(event_id, 1.0)
        else:
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(lambda event_id: loop.reward(event_id, 1.0), ids))
        return events / (time.perf_counter() - started)
    finally:
        loop.close()


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def profile(workdir: str, count: int) -> None:
    """cProfile of 2000 ranks: the functions where the time goes."""
    import cProfile
    import pstats

    action_list = actions(count)
    loop = warmed_loop(os.path.join(workdir, f"profile-{count}.db"), action_list)
    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(2000):
        loop.rank(RankRequest(CONTEXT, action_list, event_id=f"prof-{i}"))
    profiler.disable()
    loop.close()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--samples", type=int, default=3000)
    parser.add_argument("--rewards", type=int, default=5000)
    parser.add_argument("--threads", default="8,32")
    parser.add_argument("--profile", type=int, metavar="ACTIONS", nargs="?", const=4)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        if options.profile:
            profile(workdir, options.profile)
            return
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"policy: {DEFAULT_POLICY}; SQLite file in {tempfile.gettempdir()}")
        print(f"{os.cpu_count()} CPUs, load average before the run (1, 5, 15 min): {load}")
        print("\n| rank, in process, logging included | p50 ms | p99 ms | mean ms | target p99 |")
        print("|---|---|---|---|---|")
        for count, target in ((4, "≤ 1 ms"), (50, "≤ 3 ms")):
            timings = rank_latency(workdir, count, options.samples)
            print(
                f"| {count} actions ({options.samples} calls) | {percentile(timings, 50):.3f} | "
                f"{percentile(timings, 99):.3f} | {statistics.fmean(timings):.3f} | {target} |"
            )
        print("\n| reward ingestion on SQLite | rewards/s | target |")
        print("|---|---|---|")
        for threads in [1, *(int(t) for t in options.threads.split(","))]:
            rate = reward_rate(workdir, options.rewards, threads)
            label = "sequential, one caller" if threads == 1 else f"{threads} threads"
            print(f"| {label} ({options.rewards} rewards) | {rate:,.0f} | ≥ 2,000/s |")


if __name__ == "__main__":
    main()

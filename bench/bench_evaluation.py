"""Offline evaluation at scale, and what it costs ranking: a table on stdout.

1. Logs N learned events of the seeded world (bench/evaluation_world.py) into a fresh SQLite database and
   evaluates them in the evaluation worker process (nice 15, bounded memory), as the service does: online,
   baseline, random, 2 custom policies and the 8 discovered ones (the grid's nine less the loop's default
   policy: 10 learning policies). Wall time, the
   worker's CPU time and its peak memory.
2. Ranking while evaluations run: a rank+reward loop on the embedded learning loop (its own database, one
   thread) in alternating windows of --window seconds, quiet and with an evaluation running in a worker,
   --pairs busy windows each between two quiet ones. Pairs per second and p99 latency per window, and the
   ratio of the busy windows' medians to the quiet ones'. On a shared machine the windows are noisy: the
   alternation and the medians are there so that a change of load elsewhere does not pass for the effect.

    .venv/bin/python bench/bench_evaluation.py                  # 100,000 events
    .venv/bin/python bench/bench_evaluation.py --events 20000 --window 10
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.evaluation_world import DISHES, PEOPLE, TIMES, log_events  # noqa: E402
from bot.db import create_database_engine  # noqa: E402
from bot.personalizer.base import RankableAction, RankRequest  # noqa: E402
from bot.personalizer.local import open_learning_loop, store  # noqa: E402
from bot.personalizer.local.evaluation import EVALUATION, Evaluations, Series, estimate  # noqa: E402
from bot.personalizer.local.settings import LoopSettings  # noqa: E402

CUSTOM = [
    ("custom-ips", "--cb_explore_adf -q CA --cb_type ips"),
    ("custom-lr", "--cb_explore_adf -q CA -l 0.1"),
]


class _Loop:
    settings = LoopSettings()  # the default policy: one of the grid's points, so eight are discovered

    def set_policy(self, arguments: str) -> None:
        raise AssertionError("the benchmark applies nothing")


def evaluate(events: int, workdir: Path, label: str) -> tuple[Evaluations, tuple[float, float]]:
    """A database of `events` logged events and an Evaluations over it."""
    engine = create_database_engine(f"sqlite:///{workdir / f'{label}.db'}")
    store.create_tables(engine)
    span = log_events(engine, events, seed=7, step=1.0)
    return Evaluations(engine, _Loop()), span


def run_evaluation(evaluations: Evaluations, span: tuple[float, float], job_id: str) -> float:
    """Submit and run one evaluation in the worker; its wall time."""
    evaluations.submit_evaluation(job_id, job_id, span[0], span[1], CUSTOM, True)
    started = time.perf_counter()
    evaluations.run_pending()
    return time.perf_counter() - started


def rank_window(loop: object, seconds: float, stop: threading.Event | None = None) -> tuple[float, float]:
    """Ranks per second and p99 latency (ms) of rank+reward pairs for `seconds`."""
    actions = [RankableAction(d, [{"cuisine": d}]) for d in DISHES]
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    index = 0
    while time.perf_counter() < deadline:
        request = RankRequest([{"user": PEOPLE[index % 5]}, {"time_of_day": TIMES[index % 2]}], actions)
        started = time.perf_counter()
        result = loop.rank(request)  # type: ignore[attr-defined]
        loop.reward(result.event_id, 1.0)  # type: ignore[attr-defined]
        latencies.append(time.perf_counter() - started)
        index += 1
    return len(latencies) / seconds, statistics.quantiles(latencies, n=100)[98] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--window", type=float, default=20.0, help="seconds per ranking window")
    parser.add_argument("--pairs", type=int, default=3, help="busy windows (each between two quiet ones)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        evaluations, span = evaluate(args.events, workdir, "log")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall = run_evaluation(evaluations, span, "alone")
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        job = evaluations.get(EVALUATION, "alone")
        assert job.result is not None, job.message
        learning = [p for p in job.result["policies"] if p["source"] in ("Custom", "OfflineExperimentation")]
        print(
            f"## Evaluation of {args.events} logged events, {len(learning)} learning policies + 3 references"
        )
        print("| wall s | worker CPU s | worker peak RSS MB | optimal | its expected reward [95% CI] |")
        print("|---:|---:|---:|---|---|")
        best = next(p for p in job.result["policies"] if p["name"] == job.result["optimalPolicy"])
        e = estimate(Series.from_dict(best["series"]).total)
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        print(
            f"| {wall:.1f} | {cpu:.1f} | {after.ru_maxrss / 1024:.0f} | {best['name']} `{best['arguments']}` "
            f"| {e.expected_reward:.4f} [{e.low:.4f}, {e.high:.4f}] |"
        )
        loop = open_learning_loop(f"sqlite:///{workdir / 'serve.db'}", LoopSettings(), training_nice=0)
        busy, stop = threading.Event(), threading.Event()
        runs = [0]

        def evaluate_while_busy() -> None:
            while not stop.is_set():
                if busy.wait(0.1):
                    run_evaluation(evaluations, span, f"busy-{runs[0]}")
                    runs[0] += 1

        worker = threading.Thread(target=evaluate_while_busy, daemon=True)
        worker.start()
        rows: list[tuple[str, float, float]] = []
        try:
            rank_window(loop, 2.0)  # warm up
            for index in range(2 * args.pairs + 1):
                if index % 2:
                    busy.set()
                    time.sleep(1.0)  # the worker process has started
                rows.append(("evaluation running" if index % 2 else "quiet", *rank_window(loop, args.window)))
                busy.clear()
        finally:
            stop.set()
            worker.join()
            loop.close()
        print(
            f"\n## Ranking (embedded loop, one thread, rank+reward pairs, {args.window:.0f} s windows, alternating)"
        )
        print("| window | pairs/s | p99 ms |")
        print("|---|---:|---:|")
        for label, rate, p99 in rows:
            print(f"| {label} | {rate:.0f} | {p99:.2f} |")
        quiet = [r for r in rows if r[0] == "quiet"]
        loaded = [r for r in rows if r[0] != "quiet"]
        rate_ratio = statistics.median(r[1] for r in loaded) / statistics.median(r[1] for r in quiet)
        p99_ratio = statistics.median(r[2] for r in loaded) / statistics.median(r[2] for r in quiet)
        print(
            f"\nmedian pairs/s, running / quiet: {rate_ratio:.2f}; median p99, running / quiet: {p99_ratio:.2f}"
        )
        print(f"evaluations of {args.events} events completed during the busy windows: {runs[0]}")


if __name__ == "__main__":
    main()

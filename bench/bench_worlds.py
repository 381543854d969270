"""Learning across worlds: the service, through its REST API and Microsoft's client, beside LinUCB and raw VW.

Families of synthetic worlds (bench/worlds_synthetic.py: linear, clustered, kernel, neural; 5 fresh actions
per step, 5 numeric context and 5 numeric action features), several seeds each. The service is the real
learning loop on a temporary SQLite file with its default settings except a 1 s model update frequency,
served by the production uvicorn stack on loopback and played with `azure-cognitiveservices-personalizer`'s
`rank` and `events.reward`. Traffic assumption as in bench/bench_learning.py: 10 ranks per second on an
injected clock, `train_once()` each time the clock passes the model update frequency, so rank serves a model
published up to 10 events ago. The references (bench/worlds_references.py) learn after every step. Every
player of a seed faces the same contexts, actions and click dice.

A second service row keeps the defaults and turns auto-optimization on (autoOptimizationFrequency PT1H,
the shortest the API accepts, on a clock where it is 1000 steps; from one period in): what the service picks by itself from its log. The ceiling row is what a
perfect model earns when explorationPercentage (the service's default 0.2, which every policy honours)
spreads that share of ranks uniformly: (1 - e) * best + e * uniform, in expectation.

    nice -n 15 .venv/bin/python bench/bench_worlds.py            # 4 families x 3 seeds x 3000 steps
    nice -n 15 .venv/bin/python bench/bench_worlds.py --quick    # 1 seed x 1000 steps, no PNGs
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.worlds_plot import plot_family  # noqa: E402
from bench.worlds_references import (  # noqa: E402
    LINUCB,
    VW_REFERENCES,
    play_linucb,
    play_uniform,
    play_vw,
)
from bench.worlds_service import (  # noqa: E402
    SERVICE,
    auto_label,
    default_policy,
    play_service,
    service_label,
)
from bench.worlds_synthetic import FAMILIES, SyntheticEpisode, episode  # noqa: E402

DOCS = Path(__file__).resolve().parent.parent / "docs"
UNIFORM = "uniform choice"
DEFAULT_EXPLORATION = 0.2  # LoopSettings().exploration_percentage, Personalizer's default
Player = Callable[[SyntheticEpisode], list[float]]
DECISIONS: list[str] = []  # every auto-optimization's outcome, as the runs go


def players(workdir: str, variant: tuple[str | None, float | None] | None, auto: float) -> dict[str, Player]:
    """Every player of a run, the service first; the references are all but the services and uniform."""
    out: dict[str, Player] = {SERVICE: lambda e: play_service(e, workdir)}
    if auto > 0:

        def tuned(e: SyntheticEpisode) -> list[float]:
            found: list[str] = []
            rewards = play_service(e, workdir, auto_optimization=auto, decisions=found)
            DECISIONS.extend(f"{e.family} seed {e.seed}, {line}" for line in found)
            return rewards

        out[auto_label(auto)] = tuned
    if variant is not None:
        out[service_label(*variant)] = lambda e: play_service(e, workdir, *variant)
    out[LINUCB] = play_linucb
    for name, args in VW_REFERENCES.items():
        out[name] = lambda e, args=args: play_vw(e, args)
    out[UNIFORM] = play_uniform
    return out


def mean(values: list[float]) -> float:
    """The arithmetic mean."""
    return sum(values) / len(values)


def run(
    families: list[str],
    seeds: int,
    steps: int,
    variant: tuple[str | None, float | None] | None,
    auto: int,
) -> dict[str, dict[str, list[list[float]]]]:
    """Rewards per family, player and seed."""
    results: dict[str, dict[str, list[list[float]]]] = {}
    with tempfile.TemporaryDirectory() as workdir:
        for family in families:
            results[family] = {}
            for seed in range(seeds):
                world = episode(family, seed, steps)
                for name, play in players(workdir, variant, auto).items():
                    started = time.perf_counter()
                    rewards = play(world)
                    results[family].setdefault(name, []).append(rewards)
                    print(
                        f"  {family} seed {seed}: {mean(rewards):.3f} in {time.perf_counter() - started:5.1f} s"
                        f"  {name}",
                        file=sys.stderr,
                        flush=True,
                    )
    return results


def is_service(name: str) -> bool:
    """Whether a row is the service (with its defaults or changed settings) rather than a reference."""
    return name.startswith("service")


def ceiling(world: SyntheticEpisode, exploration: float = DEFAULT_EXPLORATION) -> float:
    """A perfect model's expected reward when `exploration` of the ranks are uniform."""
    best = world.probabilities.max(axis=1).mean()
    return float((1.0 - exploration) * best + exploration * world.probabilities.mean())


def report(results: dict[str, dict[str, list[list[float]]]], seeds: int, steps: int, plots: bool) -> None:
    """Print a table per family, the summary of ratios, and write the PNGs."""
    summary: list[tuple[str, str, float, str, float, float]] = []
    totals: dict[str, list[float]] = {}
    ceilings: dict[str, float] = {}
    for family, by_player in results.items():
        worlds = [episode(family, seed, steps) for seed in range(seeds)]
        oracle = mean([w.best_expected() for w in worlds])
        ceilings[family] = mean([ceiling(w) for w in worlds])
        print(
            f"\n**{family}** worlds, {seeds} seeds x {steps} steps (best possible {oracle:.3f}; "
            f"at explorationPercentage {DEFAULT_EXPLORATION:g}, {ceilings[family]:.3f})\n"
        )
        print("| player | average reward | worst seed | last third |")
        print("|---|---|---|---|")
        averages = {}
        for name, runs in by_player.items():
            per_seed = [mean(r) for r in runs]
            averages[name] = mean(per_seed)
            totals.setdefault(name, []).extend(per_seed)
            last = mean([mean(r[-steps // 3 :]) for r in runs])
            print(f"| {name} | {averages[name]:.3f} | {min(per_seed):.3f} | {last:.3f} |")
        references = {n: a for n, a in averages.items() if not is_service(n) and n != UNIFORM}
        best = max(references, key=references.__getitem__)
        for name in filter(is_service, averages):
            summary.append((family, name, averages[name], best, references[best], references[LINUCB]))
        if plots:
            DOCS.mkdir(exist_ok=True)
            path = DOCS / f"learning-worlds-{family}.png"
            e = DEFAULT_EXPLORATION
            plot_family(
                family,
                by_player,
                [w.probabilities.max(axis=1) for w in worlds],
                SERVICE,
                path,
                [(1 - e) * w.probabilities.max(axis=1) + e * w.probabilities.mean(axis=1) for w in worlds],
                f"ceiling at explorationPercentage {e:g} (expected)",
            )
            print(f"\nwrote docs/{path.name}")
    overall = {n: mean(v) for n, v in totals.items() if not is_service(n) and n != UNIFORM}
    best = max(overall, key=overall.__getitem__)
    for name in filter(is_service, totals):
        print(f"\n{name}:\n")
        print(
            "| family | service | best reference | its reward | service / best | service / LinUCB "
            f"| ceiling at {DEFAULT_EXPLORATION:g} / best |"
        )
        print("|---|---|---|---|---|---|---|")
        rows = [row for row in summary if row[1] == name]
        for family, _, service, ref, reward, linucb in rows:
            print(
                f"| {family} | {service:.3f} | {ref} | {reward:.3f} | {service / reward:.3f} "
                f"| {service / linucb:.3f} | {ceilings[family] / reward:.3f} |"
            )
        service = mean(totals[name])
        print(
            f"| overall | {service:.3f} | {best} | {overall[best]:.3f} | {service / overall[best]:.3f} "
            f"| {service / overall[LINUCB]:.3f} |"
        )
        print(f"| worst family | | | | {min(r[2] / r[4] for r in rows):.3f} | | |")
    if DECISIONS:
        print("\nAuto-optimization decisions:\n")
        for line in DECISIONS:
            print(f"- {line}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--seeds", type=int, help="seeds per family (3; 1 with --quick)")
    parser.add_argument("--steps", type=int, help="steps per world (3000; 1000 with --quick)")
    parser.add_argument("--quick", action="store_true", help="1 seed of 1000 steps per family, no PNGs")
    parser.add_argument("--no-plots", action="store_true")
    parser.add_argument(
        "--policy", help="also play the service with this policy (PUT /configurations/policy)"
    )
    parser.add_argument("--exploration", type=float, help="... and with this explorationPercentage")
    parser.add_argument(
        "--auto-optimization",
        type=int,
        default=1000,
        help="also play the defaults with auto-optimization, a period every this many steps (0: no)",
    )
    options = parser.parse_args()
    options.seeds = options.seeds or (1 if options.quick else 3)
    options.steps = options.steps or (1000 if options.quick else 3000)
    options.no_plots = options.no_plots or options.quick
    families = options.families.split(",")
    started = time.perf_counter()
    print(f"service policy (DEFAULT_POLICY): {default_policy()}")
    variant = None
    if options.policy is not None or options.exploration is not None:
        variant = (options.policy, options.exploration)
    results = run(families, options.seeds, options.steps, variant, options.auto_optimization)
    report(results, options.seeds, options.steps, not options.no_plots)
    print(f"\n{time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()

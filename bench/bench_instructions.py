"""Instructions per rank and per reward, in process, counted by callgrind: two builds compared on a busy machine.

Time on a shared VM moves with whatever else runs; the number of instructions a call executes does not. For
each build (a checkout of this repository) the same driver ranks and rewards N times on a fresh SQLite file
under `valgrind --tool=callgrind`, once with N calls and once with none; the difference over N is the cost of
one call, start-up and imports excluded.

    .venv/bin/python bench/bench_instructions.py --build . --build /path/to/other/checkout
    .venv/bin/python bench/bench_instructions.py --build . --calls 300 --actions 4,50

Needs valgrind (apt-get install -y valgrind). Loopback only: nothing leaves the process.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

# Runs inside the build's checkout; the engine is imported from wherever the build keeps it.
DRIVER = r"""
import sys, tempfile
try:
    from bot.personalizer.local import open_learning_loop
except ImportError:
    from bot.personalizer.loop import open_learning_loop
from bot.personalizer.base import RankableAction, RankRequest

calls, actions = int(sys.argv[1]), int(sys.argv[2])
menu = [
    RankableAction(f"dish{i}", [{"taste": ["salty", "sweet"][i % 2], "spice": i % 3}, {"cuisine": f"c{i % 5}",
     "level": i % 4, "fresh": True}, {"price": i * 1.5, "kcal": 100 + i}])
    for i in range(actions)
]
context = [{"taste_preference": "sweet"}, {"time_of_day": "evening"}, {"user": "U1"}, {"weekday": "fri"},
           {"weather": "rain"}, {"device": "phone"}, {"mood": "tired"}, {"budget": 2}]
loop = open_learning_loop(f"sqlite:///{tempfile.mkdtemp()}/i.db", run_trainer=False)
for _ in range(20):  # warm caches and the first connections, in every run alike
    loop.reward(loop.rank(RankRequest(context, menu)).event_id, 1.0)
for _ in range(calls):
    result = loop.rank(RankRequest(context, menu))
    loop.reward(result.event_id, 1.0)
loop.close()
"""


def instructions(build: Path, calls: int, actions: int) -> int:
    """Total instructions callgrind counted for one run of the driver in `build`."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "callgrind.out"
        subprocess.run(
            [
                "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                sys.executable, "-c", DRIVER, str(calls), str(actions),
            ],
            cwd=build,
            env={**os.environ, "PYTHONPATH": str(build)},
            check=True,
            capture_output=True,
        )  # fmt: skip
        totals = re.search(r"^totals:\s+(\d+)", out.read_text(errors="replace"), re.MULTILINE)
        if totals is None:
            raise RuntimeError(f"callgrind wrote no totals for {build}")
        return int(totals.group(1))


def main() -> None:
    """Print instructions per rank+reward pair for each build and action count."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--build", action="append", required=True, help="a checkout of this repository")
    parser.add_argument("--calls", type=int, default=300, help="rank+reward pairs per measured run")
    parser.add_argument("--actions", default="4,50")
    args = parser.parse_args()
    counts = [int(a) for a in args.actions.split(",")]
    print("| build | actions | instructions per rank+reward pair | ratio to the first build |")
    print("|---|---:|---:|---:|")
    first: dict[int, float] = {}
    for build in (Path(b).resolve() for b in args.build):
        for actions in counts:
            per_call = (
                instructions(build, args.calls, actions) - instructions(build, 0, actions)
            ) / args.calls
            first.setdefault(actions, per_call)
            print(
                f"| {build.name} | {actions} | {per_call:,.0f} | {per_call / first[actions]:.3f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()

"""Instructions per slash command, "Suggest" click, Home tab and 👍, in process, counted by callgrind.

Time on a shared VM moves with whatever else runs; the number of instructions a request executes does not.
For each build (a checkout of this repository) bench/slack_instructions_driver.py runs the build's Slack
app in one process under `valgrind --tool=callgrind`: its ASGI app, Bolt, the listeners and the local
learner on a fresh SQLite file (no trainer, so every run does the same work), with requests signed like
Slack's and the fake Slack of tests/support in a process of its own, not counted. After a warm-up (each of
10 users has a history of suggestions), each kind of request runs N times, one at a time, each waited for
at the fake Slack; callgrind dumps its counts at the start and end of each phase.

    .venv/bin/python bench/bench_slack_instructions.py --build /path/to/baseline --build .
    .venv/bin/python bench/bench_slack_instructions.py --build . --calls 50 --profile /tmp/wfd.prof

With --profile, the last build runs once without valgrind under yappi (every thread, CPU time, all phases in
one pstats file); yappi is no dependency of the project, so run this script with a Python that has it.
Needs valgrind (apt-get install -y valgrind). Loopback only: nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DRIVER = REPO / "bench" / "slack_instructions_driver.py"
KINDS = ("slash", "click", "home", "vote")
LABELS = {
    "slash": "slash command `/whatsfordinner <taste> <time>`",
    "click": '"Suggest" click',
    "home": "`app_home_opened` → views.publish",
    "vote": "👍 (the redraw and the Home tab's refresh)",
}
# The fake Slack, in a process of its own: each call it answered, one line on stdout, for the driver to wait on.
FAKE = r"""
import sys, threading
sys.path.insert(0, sys.argv[1])
from slack_fakes import FakeSlack
lock = threading.Lock()
class Reporting(FakeSlack):
    def _record(self, call):
        super()._record(call)
        with lock:
            sys.stdout.write(f"{call.kind} {call.name}\n")
            sys.stdout.flush()
with Reporting() as fake:
    sys.stderr.write(f"{fake.port}\n")
    sys.stderr.flush()
    sys.stdin.read()
"""


def run(build: Path, kinds: list[str], calls: int, profile: Path | None = None) -> dict[str, int]:
    """Instructions per phase for one build (empty with `profile`: the driver runs under cProfile instead)."""
    fake = subprocess.Popen(
        [sys.executable, "-c", FAKE, str(REPO / "tests" / "support")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert fake.stderr is not None
        port = fake.stderr.readline().strip()
        env = {**os.environ, "PYTHONPATH": str(build), "PYTHONHASHSEED": "0"}
        args = [sys.executable, str(DRIVER), ",".join(kinds), str(calls), port]
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder) / "callgrind.out"
            if profile is None:
                args = [
                    "valgrind",
                    "--tool=callgrind",
                    "--dump-before=getpgrp",
                    f"--callgrind-out-file={out}",
                    *args,
                ]
            else:
                args += ["--profile", str(profile)]
            done = subprocess.run(args, cwd=build, env=env, stdin=fake.stdout, capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"the driver failed in {build}:\n{done.stderr[-3000:]}")
            if profile is not None:
                return {}
            # Dumps 1, 3, 5... end the parts before each phase; 2, 4, 6... are the phases themselves.
            totals = {}
            for index, kind in enumerate(kinds):
                text = Path(f"{out}.{2 * index + 2}").read_text(errors="replace")
                found = re.search(r"^totals:\s+(\d+)", text, re.MULTILINE)
                if found is None:
                    raise RuntimeError(f"callgrind wrote no totals for {kind} in {build}")
                totals[kind] = int(found.group(1))
            return totals
    finally:
        if fake.stdin:
            fake.stdin.close()
        fake.wait(timeout=10)


def main() -> None:
    """Print instructions per request of each kind for each build, and the ratio to the first build."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--build", action="append", help="a checkout of this repository (default: this one)")
    parser.add_argument("--calls", type=int, default=50, help="requests of each kind, one at a time")
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--profile", type=Path, help="write a cProfile of the last build instead of counting")
    args = parser.parse_args()
    kinds = args.kinds.split(",")
    builds = [Path(b).resolve() for b in args.build or [REPO]]
    if args.profile:
        run(builds[-1], kinds, args.calls, args.profile)
        print(f"profile written to {args.profile}")
        return
    print("| request | build | instructions per request | ratio to the first build |")
    print("|---|---|---:|---:|")
    first: dict[str, float] = {}
    results = {build: run(build, kinds, args.calls) for build in builds}
    for kind in kinds:
        for build in builds:
            per_call = results[build][kind] / args.calls
            first.setdefault(kind, per_call)
            print(
                f"| {LABELS[kind]} | {build.name} | {per_call:,.0f} | {per_call / first[kind]:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()

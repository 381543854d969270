"""Hostile input against the Slack bot in HTTP mode: what each attack gets, and what a bystander sees meanwhile.

    python bench/bench_attacks_slack.py [--repo PATH] [--markdown]

Each attack class runs against `python app.py` (uvicorn + Starlette + Bolt, local learner on SQLite) on
127.0.0.1, with the fake Slack of tests/support in this process. While it runs, a bystander sends a signed slash
command every half second and times its reply at the fake response_url (capped at BYSTANDER_CAP). Reported
per attack: the answers it got, how many were 5xx, the worst bystander latency, and the bot's RSS before
and after. `--repo` runs another checkout's app.py (to compare two versions in one run). Bounded: about two
and a half minutes in all.
"""

from __future__ import annotations

import argparse
import platform
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests" / "support")]

from slack_fakes import FakeSlack, RunningApp, app_environment, command_body, sign, start_app  # noqa: E402
from slack_hostile import (  # noqa: E402
    BYSTANDER_CAP,
    FORM,
    Bystander,
    Slowloris,
    hang_replies,
    healthz_seconds,
    hold_bodies,
    post,
    rss_mb,
    send_chunked,
    unsigned,
)

DRIP = 0.3  # seconds between the bytes of a dripped answer: each within any socket timeout, 2 min in all
FORGED = "\n2026-01-01 00:00:00,000 ERROR bot.forged: FORGED-LOG-LINE\n"


@dataclass
class Outcome:
    """One attack's row."""

    attack: str
    statuses: Counter[str] = field(default_factory=Counter)
    bystander_worst: float = 0.0
    rss_before: float = 0.0
    rss_after: float = 0.0
    note: str = ""

    @property
    def server_errors(self) -> int:
        """Answers 500 and above."""
        return sum(n for s, n in self.statuses.items() if s.isdigit() and int(s) >= 500)


def attack_log_flood(app: RunningApp, fake: FakeSlack, out: Outcome) -> None:
    before = app.log_path.stat().st_size
    body = ("text=hi" + FORGED + "&" + "x" * 900_000).encode()
    for _ in range(20):
        out.statuses[post(app, body, unsigned(str(int(time.time()))))] += 1
    grown = app.log_path.stat().st_size - before
    forged = "forged line in log" if "FORGED-LOG-LINE" in app.log() else "no forged line"
    out.note = f"log +{grown / 1e3:,.0f} kB, {forged}"


def attack_timestamps(app: RunningApp, fake: FakeSlack, out: Outcome) -> None:
    body = command_body("sweet evening", "http://127.0.0.1:9/nowhere").encode()
    for timestamp in ["abc", "", "1.5", "1e9", "0x10", "9" * 400] * 5:
        out.statuses[post(app, body, unsigned(timestamp))] += 1


def attack_malformed(app: RunningApp, fake: FakeSlack, out: Outcome) -> None:
    deep = "[" * 3000 + "]" * 3000
    bodies = [
        (urlencode({"payload": deep}), "application/x-www-form-urlencoded"),
        (
            urlencode({"payload": '{"type":"block_actions","a":' + deep + "}"}),
            "application/x-www-form-urlencoded",
        ),
        (urlencode({"payload": '{"response_urls": "x"}'}), "application/x-www-form-urlencoded"),
        (
            urlencode({"payload": '{"type": "block_actions", "user": {"id": "U1"}, "actions": [{}]}'}),
            "application/x-www-form-urlencoded",
        ),
        (urlencode({"command": "/whatsfordinner", "response_url": "http://127.0.0.1:9/x"}), FORM),
        ('{"type": "event_callback", "event": "x"}', "application/json"),
        ('{"type": "event_callback", "event": ' + deep + "}", "application/json"),
        (deep, "application/json"),
        ("{", "application/json"),
    ]
    for body, content_type in bodies * 3:
        out.statuses[post(app, body.encode(), {**sign(body), "Content-Type": content_type})] += 1


def attack_chunked(app: RunningApp, fake: FakeSlack, out: Outcome) -> None:
    taken = []
    for _ in range(6):
        status, sent = send_chunked(app, 40_000_000, unsigned(str(int(time.time()))))
        out.statuses[str(status)] += 1
        taken.append(sent)
    out.note = f"the server took up to {max(taken) / 1e6:.1f} MB of each 40 MB before answering"


def attack_held_bodies(app: RunningApp, fake: FakeSlack, out: Outcome) -> None:
    held, statuses = hold_bodies(app, 200, 900_000)
    out.statuses.update(str(s) for s in statuses)
    out.note = f"{len(held)} bodies held open by the server, {len(statuses)} refused at once"
    time.sleep(2)  # the bystander asks while the connections hold their bodies
    for sock in held:
        sock.close()


def attack_hanging_replies(app: RunningApp, fake: FakeSlack, out: Outcome) -> None:
    out.statuses.update(hang_replies(app, fake, "hang", 18))
    time.sleep(6)  # the bystander keeps asking while the 18 replies hang
    out.note = "18 response_urls that never answer"


def attack_dripping_replies(app: RunningApp, fake: FakeSlack, out: Outcome) -> None:
    out.statuses.update(hang_replies(app, fake, "drip", 18, drip=DRIP))
    time.sleep(6)  # the bystander keeps asking while the 18 answers drip
    cuts = [c["seconds"] for i in range(18) for c in fake.cuts(f"respond/drip-{i}")]
    out.note = f"the bot hung up on {len(cuts)} of 18 within 6 s" + (
        f", at {max(cuts):.1f} s" if cuts else ""
    )


def attack_dripping_users_info(app: RunningApp, fake: FakeSlack, out: Outcome) -> None:
    fake.drips["api/users.info/U5DRIPTZ"] = DRIP
    menus_of(app, fake, out, "U5DRIPTZ", "")


def attack_slow_users_info(app: RunningApp, fake: FakeSlack, out: Outcome) -> None:
    fake.delays["api/users.info/U5SLOWTZ"] = 10.0
    menus_of(app, fake, out, "U5SLOWTZ", " (users.info answers in 10 s)")


def menus_of(app: RunningApp, fake: FakeSlack, out: Outcome, user: str, why: str) -> None:
    """`user` asks for the menus (which read users.info): when they arrive."""
    name = f"menus-{user}"
    started = time.perf_counter()
    body = command_body("", fake.response_url(name), user=user)
    out.statuses[post(app, body.encode(), sign(body))] += 1
    try:
        at = fake.wait(lambda: fake.response_calls(name), 1, BYSTANDER_CAP, name)[0].at
        out.note = f"that user's menus after {at - started:.1f} s{why}"
    except AssertionError:
        out.note = f"that user's menus: none within {BYSTANDER_CAP:g} s"


def attack_slowloris(app: RunningApp, fake: FakeSlack, out: Outcome) -> None:
    slow = Slowloris(app, 400)
    try:
        worst = 0.0
        for _ in range(16):  # 8 s: past the header deadline
            worst = max(worst, healthz_seconds(app))
            time.sleep(0.5)
        out.note = f"/healthz worst {'never answered' if worst >= 99 else seconds(worst)}; "
        out.note += f"{slow.closed_by_server} of 400 closed by the server"
    finally:
        slow.close()


def attack_sigterm(app: RunningApp, fake: FakeSlack, out: Outcome) -> None:
    out.statuses.update(hang_replies(app, fake, "term", 300))
    started = time.monotonic()
    app.process.send_signal(signal.SIGTERM)
    try:
        app.process.wait(timeout=30)
        out.note = f"exited {time.monotonic() - started:.1f} s after SIGTERM with 300 replies hanging"
        logged = re.search(r"stopping with .*? replies in flight.*? (\d+) replies", app.log())
        out.note += (
            f"; logged {logged.group(1)} replies abandoned" if logged else "; logged nothing abandoned"
        )
    except subprocess.TimeoutExpired:
        out.note = "still running 30 s after SIGTERM (killed)"
        app.process.kill()
        app.process.wait()


def low_open_files() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))


# (name, attack, bot started with a low open-file limit, bystander runs during the attack)
ATTACKS: list[tuple[str, Callable[[RunningApp, FakeSlack, Outcome], None], bool, bool]] = [
    ("unsigned 900 kB bodies with a forged log line ×20", attack_log_flood, False, True),
    ("non-integer X-Slack-Request-Timestamp ×30", attack_timestamps, False, True),
    ("signed, malformed: 3,000-deep payload, wrong types, no action_id ×27", attack_malformed, False, True),
    ("unsigned chunked 40 MB bodies ×6", attack_chunked, False, True),
    ("900 kB bodies held one byte short ×200", attack_held_bodies, False, True),
    ("hanging response_urls ×18", attack_hanging_replies, False, True),
    ("users.info answering in 10 s", attack_slow_users_info, False, True),
    (f"response_urls dripping a byte every {DRIP:g} s ×18", attack_dripping_replies, False, True),
    (f"users.info dripping a byte every {DRIP:g} s", attack_dripping_users_info, False, True),
    ("slowloris ×400, open-file limit 256", attack_slowloris, True, True),
    ("SIGTERM with 300 replies hanging", attack_sigterm, False, False),
]


@contextmanager
def bot(fake: FakeSlack, repo: Path, low_files: bool) -> Iterator[RunningApp]:
    """A fresh bot for one attack."""
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        app = start_app(
            app_environment(fake, workdir),
            workdir,
            preexec_fn=low_open_files if low_files else None,
            repo=repo,
        )
        try:
            yield app
        finally:
            app.stop()


def run(repo: Path) -> list[Outcome]:
    """Every attack against a fresh bot from `repo`."""
    outcomes = []
    with FakeSlack() as fake:
        for name, attack, low_files, with_bystander in ATTACKS:
            out = Outcome(name)
            with bot(fake, repo, low_files) as app:
                Bystander(app, fake).once()  # warm up: the first rank loads the model
                out.rss_before = rss_mb(app.process.pid)
                if with_bystander:
                    with Bystander(app, fake) as bystander:
                        attack(app, fake, out)
                        bystander.worst = max(bystander.worst, bystander.once())
                    out.bystander_worst = bystander.worst
                else:
                    attack(app, fake, out)
                if app.process.poll() is None:
                    out.rss_after = rss_mb(app.process.pid)
            outcomes.append(out)
            print(f"  {name}: {dict(out.statuses)} {out.note}", file=sys.stderr)
    return outcomes


def table(outcomes: list[Outcome]) -> str:
    """The markdown table of outcomes."""
    lines = [
        "| attack | answers | 5xx | worst bystander reply | RSS before → after | notes |",
        "|---|---|---:|---:|---:|---|",
    ]
    for o in outcomes:
        answers = ", ".join(f"{s} ×{n}" for s, n in sorted(o.statuses.items()) if n) or "–"
        bystander = "–" if not o.bystander_worst else seconds(o.bystander_worst)
        if o.bystander_worst >= BYSTANDER_CAP:
            bystander = f"≥ {BYSTANDER_CAP:g} s"
        rss = (
            f"{o.rss_before:.0f} → {o.rss_after:.0f} MB" if o.rss_after else f"{o.rss_before:.0f} MB → exited"
        )
        lines.append(f"| {o.attack} | {answers} | {o.server_errors} | {bystander} | {rss} | {o.note} |")
    return "\n".join(lines)


def seconds(value: float) -> str:
    """A latency for the table: ms under a second."""
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


def main() -> None:
    """Run every attack and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repo", type=Path, default=REPO, help="the checkout whose app.py is attacked")
    args = parser.parse_args()
    started = datetime.now(UTC)
    outcomes = run(args.repo.resolve())
    load = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"
    print(f"Measured by `python bench/bench_attacks_slack.py` on {started:%Y-%m-%d %H:%M} UTC: Python ")
    print(f"{platform.python_version()}, {platform.system()}, one-minute load average {load} at the end.\n")
    print(table(outcomes))


if __name__ == "__main__":
    main()

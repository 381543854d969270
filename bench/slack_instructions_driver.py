"""One build's Slack app in process: warm up, then N requests of each kind, each waited for at the fake Slack.

Run by bench_slack_instructions.py under callgrind, with the build's checkout first on sys.path:

    python bench/slack_instructions_driver.py slash,click,home,vote CALLS FAKE_PORT [--profile FILE]

Each request goes through the build's own ASGI app (its Starlette endpoint, Bolt, the listeners, the local
learner on a fresh SQLite file), signed like Slack; the fake Slack runs in another process (not counted)
and reports each call it answered on this driver's stdin. The requests of a phase are built and signed
before it starts; `os.getpgrp()` marks where a phase starts and ends, and callgrind dumps its counts there.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from slack_asgi import SECRET, click, command, home_opened, post
from sqlalchemy import text

TASTES = ["salty", "sweet"]
TIMES = ["morning", "afternoon", "evening", "night"]
USERS = 10
UNVOTED = text(
    "SELECT event_id, requester FROM slack_suggestions WHERE vote IS NULL ORDER BY created_at LIMIT :n"
)
REWARD_WAIT = 5  # seconds, the shortest the learner allows
HISTORY = 40  # slash commands before anything is counted: every user has a history, like bench_slack's


def build_app(env: dict[str, str]) -> tuple[Any, Any, Any]:
    """(the ASGI app, the services, a stop function) of whichever build is first on sys.path."""
    from app import configure_logging
    from bot.config import load_config
    from bot.services import build_services

    configure_logging("WARNING")  # as app.py configures it for bench_slack.py's LOG_LEVEL
    config = load_config(env, "bot")
    services = build_services(config, run_trainer=False)  # no training mid-run: the same work every run
    try:
        from bot.listener_pool import ListenerPool
        from bot.outbound import Replies
        from bot.slack_server import build_bolt_app, build_web_app

        executor: Any = ListenerPool(max_workers=16)
        replies = Replies()
        bolt = build_bolt_app(config, services, executor, replies)
        web = build_web_app(bolt, SECRET)

        def stop() -> None:
            executor.shutdown(wait=True)
            replies.close(10)
            services.close()

    except ImportError:  # the build before the Slack server had a module of its own
        from bot.web import build_web_app as old_build_web_app  # type: ignore[import-not-found]

        from app import build_bolt_app as old_build_bolt_app  # type: ignore[attr-defined]

        executor = ThreadPoolExecutor(max_workers=16)
        bolt = old_build_bolt_app(config, services, executor)
        web = old_build_web_app(bolt)

        def stop() -> None:
            executor.shutdown(wait=True)
            services.close()

    return web, services, stop


def refreshes_home() -> bool:
    """Whether this build republishes the Home tab after a vote (the build before the Home tab did not)."""
    try:
        import bot.listeners.home  # noqa: F401
    except ImportError:
        return False
    return True


class Profiler:
    """yappi over every thread, in CPU time (cProfile sees only the thread that starts it)."""

    def __init__(self) -> None:
        try:
            import yappi
        except ImportError:
            sys.exit(
                "--profile needs yappi, which the project does not depend on: run with a Python that has it"
            )

        self.yappi = yappi
        yappi.set_clock_type("cpu")

    def start(self) -> None:
        """Profile every thread from now on."""
        self.yappi.start(profile_threads=True)

    def stop(self) -> None:
        """Stop profiling (what was gathered is kept)."""
        self.yappi.stop()

    def save(self, path: str) -> None:
        """Write the profile as pstats."""
        self.yappi.get_func_stats().save(path, type="pstat")


class Fake:
    """The fake Slack's report of each call it answered, one line each: `api views.publish`, `respond cmd3`."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.seen: Counter[str] = Counter()

    def wait(self, what: str) -> None:
        """Block until the fake has reported `what` (once more than it was waited for)."""
        while not self.seen[what]:
            line = sys.stdin.readline()
            if not line:
                raise RuntimeError(f"the fake Slack stopped before {what}")
            self.seen[line.strip()] += 1
        self.seen[what] -= 1


def main() -> None:
    """Warm up, then each kind in turn, CALLS requests one at a time; os.getpgrp() marks each phase's end."""
    kinds, calls, port = sys.argv[1].split(","), int(sys.argv[2]), int(sys.argv[3])
    profile_to = sys.argv[5] if len(sys.argv) > 5 and sys.argv[4] == "--profile" else None
    random.seed(17)
    fake = Fake(port)
    folder = tempfile.mkdtemp()
    env = {
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": f"{fake.url}/api/",
        "DATABASE_URL": f"sqlite:///{Path(folder) / 'app.db'}",
        "LOG_LEVEL": "WARNING",
        "PERSONALIZER_REWARD_WAIT_TIME": str(REWARD_WAIT),
    }
    web, services, stop = build_app(env)
    loop = asyncio.new_event_loop()
    counter = iter(range(10**9))

    def send(request: Any, then: str) -> None:
        if loop.run_until_complete(post(web, request)) != 200:
            raise RuntimeError(f"the app refused a request (waiting for {then})")
        for what in then.split(" & "):
            fake.wait(what)

    def prepare(k: str, n: int) -> list[tuple[Any, str]]:
        """n signed requests of kind k, and what each makes arrive at the fake."""
        out = []
        for _ in range(n):
            i = next(counter)
            user = f"U{i % USERS}"
            name = f"{k}{i}"
            url = f"{fake.url}/respond/{name}"
            if k == "slash":
                out.append(
                    (command(f"{random.choice(TASTES)} {random.choice(TIMES)}", user, url), f"respond {name}")
                )
            elif k == "click":
                chosen = {"type": "static_select", "selected_option": {"value": random.choice(TASTES)}}
                state = {"wfd_menus": {"wfd_taste_select": chosen}}
                request = click(
                    "wfd_suggest", user, url, f"|{random.choice(TIMES)}", state, f"1700000000.{i:06d}"
                )
                out.append((request, f"respond {name}"))
            elif k == "home":
                out.append((home_opened(user, i), "api views.publish"))
        return out

    def votes(n: int) -> list[tuple[Any, str]]:
        """A 👍 on each of the n oldest suggestions nobody voted on yet (and its Home refresh, if any)."""
        out = []
        refresh = " & api views.publish" if refreshes_home() else ""
        with services.suggestions.engine.connect() as conn:  # the same query for every build's table
            rows = conn.execute(UNVOTED, {"n": n}).all()
        for event_id, requester in rows:
            name = f"vote{next(counter)}"
            url = f"{fake.url}/respond/{name}"
            out.append(
                (click("wfd_vote_up", requester, url, event_id, {}, "1.1"), f"respond {name}{refresh}")
            )
        return out

    # Warm-up: each user's history (and the suggestions to vote on), a model learned from it (ranks then
    # predict with Vowpal Wabbit, as they do once the app has published its first model), then one request
    # of every kind.
    for request, then in prepare("slash", HISTORY + ("vote" in kinds) * (calls + 1)):
        send(request, then)
    time.sleep(REWARD_WAIT + 1)  # every event of the history ends its reward window unrewarded
    learner = services.ranker.backend
    learner.train_once()
    learner.refresh()
    warm = (
        prepare("click", 1) + prepare("home", 1) + prepare("slash", 1) + (votes(1) if "vote" in kinds else [])
    )
    for request, then in warm:
        send(request, then)
    profiler = Profiler() if profile_to else None
    for kind in kinds:
        work = votes(calls) if kind == "vote" else prepare(kind, calls)
        os.getpgrp()  # callgrind dumps here (--dump-before=getpgrp): what came before is not counted
        if profiler:
            profiler.start()
        for request, then in work:
            send(request, then)
        if profiler:
            profiler.stop()
        os.getpgrp()
        print(kind, file=sys.stderr, flush=True)
    if profiler:
        profiler.save(profile_to)
    stop()
    loop.close()
    os._exit(0)  # nothing left to wait for; daemon threads of the old build would otherwise linger


if __name__ == "__main__":
    main()

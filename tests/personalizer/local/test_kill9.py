"""kill -9 in the middle of ranking, rewarding and training: nothing acknowledged is lost or learned twice."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from bot.db import create_database_engine
from bot.personalizer.local import store
from bot.personalizer.local.loop import open_learning_loop
from bot.personalizer.local.settings import LoopSettings

ROOT = Path(__file__).resolve().parents[3]
WORKER = textwrap.dedent(
    """
    import sys
    from bot.personalizer.base import RankableAction, RankRequest
    from bot.personalizer.local.loop import open_learning_loop
    from bot.personalizer.local.settings import LoopSettings

    loop = open_learning_loop(sys.argv[1], LoopSettings(model_export_frequency=1.0), run_trainer=True)
    actions = [RankableAction(name, [{"taste": taste}]) for name, taste in
               [("pasta", "salty"), ("ice cream", "sweet"), ("salad", "salty")]]
    n = 0
    while True:
        taste = "salty" if n % 2 else "sweet"
        result = loop.rank(RankRequest([{"taste_preference": taste}], actions))
        loop.reward(result.event_id, 1.0 if result.reward_action_id == "pasta" else 0.0)
        print(result.event_id, flush=True)  # printed only once the reward is acknowledged
        n += 1
    """
)


def test_every_acknowledged_reward_survives_kill_9_and_is_learned_once(tmp_path):
    url = f"sqlite:///{tmp_path}/killed.db"
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, url],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    acknowledged: list[str] = []
    deadline = time.monotonic() + 60
    assert worker.stdout is not None
    # Run past a published model and on through the next publications (1 s apart) so the kill can land
    # mid-training; on a busy machine the first publication may come late, so it is watched for, not assumed.
    watcher = create_database_engine(url)
    started, trained_at = time.monotonic(), None
    while time.monotonic() < deadline and (
        len(acknowledged) < 300 or trained_at is None or time.monotonic() - trained_at < 1.5
    ):
        line = worker.stdout.readline()
        assert line, "the worker stopped by itself"
        acknowledged.append(line.strip())
        if trained_at is None and len(acknowledged) % 50 == 0 and time.monotonic() - started > 1:
            with contextlib.suppress(SQLAlchemyError):  # the tables may not exist yet
                model = store.latest_model(watcher)
                trained_at = time.monotonic() if model is not None and model.learned_events > 0 else None
    watcher.dispose()
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)

    loop = open_learning_loop(url, LoopSettings(model_export_frequency=1.0), run_trainer=False)
    try:
        engine = loop._engine
        for event_id in acknowledged:
            assert len(store.event_rewards(engine, event_id)) == 1, event_id
        published_before = store.latest_model(engine)
        assert published_before is not None and published_before.learned_events > 0  # it trained before dying
        loop.train_once()
        learned = store.count_events(engine, store.LEARNED)
        assert learned >= len(acknowledged)
        assert store.latest_model(engine).learned_events == learned  # each learned event counted once
        assert loop.train_once() == 0
    finally:
        loop.close()

"""The trainer: joins events with their rewards, learns each exactly once, and publishes models.

Exactly once, also across crashes and several processes: the events a model learned are marked in the
same transaction that publishes it, and a model's version is a primary key, so two trainers that start
from the same model cannot both publish. A trainer whose publication fails drops its in-memory model and
reloads the published one; the events it had learned are still pending, and are learned again from there.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot.db import write_lock
from bot.personalizer.local import store
from bot.personalizer.local.features import action_line, context_line, with_id
from bot.personalizer.local.multislot import training_example
from bot.personalizer.local.policy import Policy, load_policy
from bot.personalizer.local.settings import LoopSettings
from bot.personalizer.local.slot_store import slot_values

logger = logging.getLogger(__name__)
# Events per training transaction. On SQLite, marking them learned holds the database's write lock (one per
# file), so batches stay small enough that ranks and rewards waiting behind it barely notice (1000 held it
# 39-152 ms under load; at 100 the service's p99 over 60 s went from 22-24 ms to 12-17 ms). PostgreSQL locks
# only the marked rows, which are settled already, so its batches are bigger: each batch also costs a query
# for the ready events, a model saved through a file by VW, and a model row, and at 100 that overhead was
# most of the training process's work.
BATCH = 100
BATCH_POSTGRES = 1000
CACHED_LINES = 4096


def outcome_for(row: dict[str, Any], settings: LoopSettings, now: float) -> store.Outcome:
    """Decide what an event teaches: its reward (earliest, sum or average), the default reward, or nothing."""
    closed = row["deadline"] < now
    if row["deferred"] and (row["activated_at"] is None or row["activated_at"] > row["deadline"]):
        # Deferred and never activated in time: never learned (only reached once the window closed).
        return store.Outcome(row["event_id"], store.NEVER_LEARNED, None)
    if settings.reward_aggregation == "earliest" and row["first_reward"] is not None:
        value = float(row["first_reward"])
    elif settings.reward_aggregation == "sum" and row["reward_count"] > 0 and closed:
        value = float(row["reward_sum"])
    elif settings.reward_aggregation == "average" and row["reward_count"] > 0 and closed:
        value = float(row["reward_sum"]) / row["reward_count"]
    else:
        value = settings.default_reward
    return store.Outcome(row["event_id"], store.LEARNED, value)


def training_lines(row: dict[str, Any], value: float, action_ids: bool = False) -> list[str] | None:
    """The labelled ADF example for one event, or None when its mode learns nothing (LoggingOnly).

    Its probability is the one logged: what the rank drew with, exploration included.
    """
    if row["mode"] == "Online":
        target, cost, probability = row["chosen_id"], -value, row["probability"]
    elif row["mode"] == "Apprentice" and row["model_choice_id"] is not None:
        # Learn to imitate the baseline: reward 1 when the model's own choice was the baseline.
        matched = row["model_choice_id"] == row["baseline_id"]
        target, cost, probability = row["model_choice_id"], -1.0 if matched else 0.0, row["model_probability"]
    else:
        return None
    lines = [_shared_line(row["context"])]
    for action_id, line in _action_lines(row["actions"]):
        if action_ids:
            line = with_id(action_id, line)
        lines.append(f"0:{cost!r}:{probability!r} {line}" if action_id == target else line)
    return lines


def multislot_lines(
    row: dict[str, Any], values: dict[str, float], action_ids: bool = False
) -> list[str] | None:
    """The labelled CCB example of one multi-slot event, given each slot's reward."""
    actions = [with_id(a, line) if action_ids else line for a, line in _action_lines(row["actions"])]
    return training_example(
        row["mode"], _shared_line(row["context"]), actions, json.loads(row["slots"]), values
    )


# Logged events repeat the same contexts and menus: featurize each JSON text once.
@functools.lru_cache(maxsize=CACHED_LINES)
def _shared_line(context_json: str) -> str:
    return context_line(json.loads(context_json))


@functools.lru_cache(maxsize=CACHED_LINES)
def _action_lines(actions_json: str) -> tuple[tuple[str, str], ...]:
    return tuple((a["id"], action_line(None, a["features"])) for a in json.loads(actions_json))


class Trainer:
    """Learns ready events into a working model and publishes it; holds no state the database lacks."""

    def __init__(
        self,
        engine: Engine,
        settings: Callable[[], LoopSettings],
        clock: Callable[[], float],
        on_publish: Callable[[store.ModelRow], None],
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._clock = clock
        self._on_publish = on_publish
        self._write_lock = write_lock(engine)  # the service's writers wait for this commit, not a retry
        self._batch = BATCH_POSTGRES if engine.dialect.name == "postgresql" else BATCH
        self._base: store.ModelRow | None = None
        self._policy: Policy | None = None
        self._published: store.ModelRow | None = None
        self._committer: ThreadPoolExecutor | None = None

    def lower_priority(self, nice: int) -> None:
        """Learn `nice` steps below the calling thread's present priority, but commit at that priority.

        A commit holds the writers' lock: at a low priority the trainer was preempted while holding it, and
        every rank and reward waited (60 s under load, p99 of the commit: 12.5-14 ms; from a thread at
        normal priority, 6.5-6.9 ms). Linux gives each thread its own nice value; elsewhere nothing changes.
        """
        if self._committer is not None:  # already lowered: a restart runs on the same thread again
            return
        if sys.platform != "linux":  # elsewhere a thread ID is not a valid `who` for setpriority
            logger.info("the trainer trains at the service's priority (per-thread priorities are Linux's)")
            return
        committer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pz-commit")
        committer.submit(lambda: None).result()  # its thread starts now, at this thread's priority
        try:
            # Relative: a service started under `nice` keeps its trainer below it.
            thread = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, thread, min(19, os.getpriority(os.PRIO_PROCESS, thread) + nice))
        except OSError:
            logger.info("could not lower the trainer's priority; it trains at the service's")
            committer.shutdown()
            return
        self._committer = committer

    def train_once(self) -> int:
        """Learn every ready event and publish the model; the number of events settled."""
        settings = self._settings()
        now = self._clock()
        settled = 0
        try:
            settled = self._learn_ready(settings, now)
        finally:
            if self._published is not None:  # serve the round's last model only, once
                self._on_publish(self._published)
                self._published = None
        self._purge(settings, now)
        return settled

    def _learn_ready(self, settings: LoopSettings, now: float) -> int:
        settled = 0
        while True:
            # Reload only when someone else published (import, reset, another trainer): the model this
            # trainer just published is already in memory.
            if self._base is None or self._policy is None:
                stale = True
            else:
                stale = store.latest_model_version(self._engine) != self._base.version
            if stale:
                found = store.latest_model(self._engine)
                if found is None:
                    return settled
                self._load(found, settings)
            latest = self._base
            assert latest is not None
            rows = store.ready_events(self._engine, now, settings.reward_aggregation, self._batch)
            if not rows:
                return settled
            outcomes = [outcome_for(row, settings, now) for row in rows]
            learned = self._learn(rows, outcomes, settings)
            assert self._policy is not None and self._base is not None
            model = store.ModelRow(
                version=latest.version + 1,
                created_at=now,
                lineage_created_at=latest.lineage_created_at,
                policy=latest.policy,
                data=self._policy.to_bytes(),
                learned_events=latest.learned_events + learned,
            )
            try:
                self._commit(outcomes, model, now)
            except IntegrityError:
                logger.warning("another trainer published first; reloading its model")
                self._drop()
                return settled
            except SQLAlchemyError:
                self._drop()  # it learned what was not published: start again from the published model
                raise
            self._base = self._published = model
            settled += len(rows)
            if len(rows) < self._batch:
                return settled

    def close(self) -> None:
        """Release the working model and the commit thread."""
        self._drop()
        if self._committer is not None:
            self._committer.shutdown()
            self._committer = None

    def _commit(self, outcomes: list[store.Outcome], model: store.ModelRow, now: float) -> None:
        def commit() -> None:
            store.commit_training(self._engine, outcomes, model, now, lock=self._write_lock)

        if self._committer is None:
            commit()
        else:
            self._committer.submit(commit).result()

    def _learn(
        self, rows: list[dict[str, Any]], outcomes: list[store.Outcome], settings: LoopSettings
    ) -> int:
        """Learn each event its outcome teaches, once; a multi-slot event's outcome becomes its slots' mean."""
        policy = self._policy
        assert policy is not None
        slot_rewards = slot_values(self._engine, rows, settings.reward_aggregation, settings.default_reward)
        learned = 0
        for position, (row, outcome) in enumerate(zip(rows, outcomes, strict=True)):
            if outcome.state != store.LEARNED or outcome.value is None:
                continue
            if bool(row.get("slots")) != policy.multislot:
                continue  # ranked under a policy of the other kind, before the switch: nothing to teach this one
            if row.get("slots"):
                values = slot_rewards[row["event_id"]]
                outcomes[position] = store.Outcome(
                    outcome.event_id, outcome.state, sum(values.values()) / len(values)
                )
                lines = multislot_lines(row, values, policy.action_ids)
            else:
                lines = training_lines(row, outcome.value, policy.action_ids)
            if lines is not None:
                policy.learn(lines)
                learned += 1
        return learned

    def _load(self, latest: store.ModelRow, settings: LoopSettings) -> None:
        self._drop()
        self._policy = load_policy(latest.policy, settings.exploration_percentage, latest.data)
        self._base = latest

    def _drop(self) -> None:
        if self._policy is not None:
            self._policy.close()
        self._policy, self._base = None, None

    def _purge(self, settings: LoopSettings, now: float) -> None:
        if settings.log_retention_days >= 0:
            with self._write_lock():
                removed = store.delete_events(
                    self._engine, before=now - settings.log_retention_days * 86400.0
                )
            if removed:
                logger.info("log retention removed %d events", removed)

"""The learning loop: Personalizer's Rank → Reward contract over Vowpal Wabbit, durable on SQL.

Rank validates, predicts with the latest published model, draws the reward action with a generator
seeded by the event ID, and logs the event (group commit) before answering. Rewards and activations are
durable before they return. A background thread trains and publishes every model update frequency (see
trainer.py), and picks up models, imports and settings that other processes publish.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import math
import os
import random
import threading
import time
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from bot.db import checkpoint, create_database_engine, is_sqlite, write_lock
from bot.personalizer import store
from bot.personalizer.base import InvalidRequest, RankedAction, RankerUnavailable, RankRequest, RankResult
from bot.personalizer.learner import Policy, check_policy, effective_arguments
from bot.personalizer.loop_writer import LoopWriter
from bot.personalizer.settings import DEFAULT_POLICY, LoopSettings
from bot.personalizer.trainer import Leadership, Trainer
from bot.personalizer.validation import check_id, featurize_request
from bot.personalizer.writer import GroupCommitWriter

logger = logging.getLogger(__name__)
WRITE_TIMEOUT = 10.0
REFRESH_INTERVAL = 1.0
# Not more often: the last step of each checkpoint holds the writers' lock (8-34 ms under load), and fewer,
# larger checkpoints stall fewer requests (p99 over a minute).
CHECKPOINT_INTERVAL = 10.0
_ENCODER = json.JSONEncoder(separators=(",", ":"))
# Event IDs need to be unique, not secret (the API key guards rewards): a generator seeded from the OS
# avoids a getrandom() system call per rank, which costs ~30 µs on some virtual machines. A forked
# process must not repeat its parent's sequence, so each child reseeds.
_event_ids = random.Random(uuid.uuid4().int)
os.register_at_fork(after_in_child=lambda: _event_ids.seed(uuid.uuid4().int))


@dataclass
class _Prepared:
    row: dict[str, Any]
    result: RankResult


@dataclass(frozen=True)
class _Served:
    version: int
    exploration: float
    policy: Policy | None  # None: no model learned yet, every allowed action equally likely


class LearningLoop:
    """Implements the Ranker port plus Personalizer's service operations. Thread-safe."""

    def __init__(
        self,
        engine: Any,
        settings: LoopSettings,
        clock: Callable[[], float],
        trains: bool = True,
        training_nice: int = 0,
    ) -> None:
        self._engine = engine
        self._trains = trains
        self._clock = clock
        self._settings = settings
        self._settings_lock = threading.Lock()
        self._served = _Served(0, settings.exploration_percentage, None)
        # An event loop's writes: on PostgreSQL sent from that event loop (loop_writer.py), on SQLite through
        # the writer's thread, since sqlite3 has no asynchronous interface.
        sqlite = is_sqlite(engine)
        self._writer = GroupCommitWriter(engine, event_loops=sqlite)
        self._loop_writer: GroupCommitWriter | LoopWriter = self._writer if sqlite else LoopWriter(engine)
        self._leadership = Leadership(engine)
        self._trainer = Trainer(engine, lambda: self._settings, clock, self._serve)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._checkpointer: threading.Thread | None = None
        self._last_training = -math.inf
        self._training_nice = training_nice
        self._write_lock = write_lock(engine)

    # --- the Ranker port -------------------------------------------------------------------------

    def rank(self, request: RankRequest) -> RankResult:
        """Rank the actions, log the event durably, and return the ranking."""
        prepared = self._prepare(request)
        self._writer.submit_event(prepared.row)
        return prepared.result

    def reward(self, event_id: str, value: float) -> None:
        """Keep a reward for an event (durable on return); EventNotFound for an unknown event."""
        self._writer.submit_reward(check_id(event_id, "eventId"), check_reward(value), self._clock())

    def activate(self, event_id: str) -> None:
        """Activate an event ranked with defer_activation; EventNotFound for an unknown event."""
        self._writer.submit_activation(check_id(event_id, "eventId"), self._clock())

    async def rank_async(self, request: RankRequest) -> RankResult:
        """rank() for an event loop: awaits the group commit instead of blocking a thread."""
        prepared = self._prepare(request)
        await self._submitted(lambda waiter: self._loop_writer.submit_event(prepared.row, waiter))
        return prepared.result

    async def reward_async(self, event_id: str, value: float) -> None:
        """reward() for an event loop."""
        at = self._clock()
        event_id, value = check_id(event_id, "eventId"), check_reward(value)
        await self._submitted(lambda waiter: self._loop_writer.submit_reward(event_id, value, at, waiter))

    async def activate_async(self, event_id: str) -> None:
        """activate() for an event loop."""
        event_id, at = check_id(event_id, "eventId"), self._clock()
        await self._submitted(lambda waiter: self._loop_writer.submit_activation(event_id, at, waiter))

    # --- training and models -----------------------------------------------------------------------

    def train_once(self) -> int:
        """Learn every ready event and publish the model now; returns how many events were settled.

        The background thread calls this every model update frequency. With run_trainer=False (tests,
        simulations with an injected clock) call it yourself whenever a model update is due.
        """
        if not self._leadership.try_acquire():
            return 0
        self._last_training = self._clock()
        return self._trainer.train_once()

    def refresh(self) -> None:
        """Pick up settings and models that another process (or an API call) published."""
        stored = store.load_settings(self._engine)
        if stored is not None:
            with self._settings_lock:
                self._settings = settings_from_dict(stored, self._settings)
        version = store.latest_model_version(self._engine)
        served = self._served
        if version != served.version or served.exploration != self._settings.exploration_percentage:
            latest = store.latest_model(self._engine)
            if latest is not None:
                self._serve(latest)

    def export_model(self) -> bytes:
        """The published model as VW bytes (a fresh model if nothing was learned yet)."""
        latest = store.latest_model(self._engine)
        if latest is not None and latest.data is not None:
            return latest.data
        policy = Policy(effective_arguments(self.settings.policy, self.settings.exploration_percentage))
        try:
            return policy.to_bytes()
        finally:
            policy.close()

    def import_model(self, data: bytes) -> None:
        """Publish an exported model; ValueError if these bytes are not a model for the current policy."""
        settings = self.settings
        Policy(effective_arguments(settings.policy, settings.exploration_percentage), data).close()
        now = self._clock()
        store.publish_model(self._engine, settings.policy, data, now, now)
        self.refresh()

    def reset_model(self) -> None:
        """Start learning from scratch: the next ranks are uniform again."""
        now = self._clock()
        store.publish_model(self._engine, self.settings.policy, None, now, now)
        self.refresh()

    def model_properties(self) -> dict[str, datetime]:
        """creation_time (of this model's lineage: start, reset or import) and last_modified_time."""
        latest = store.latest_model(self._engine)
        now = self._clock()
        created = latest.lineage_created_at if latest else now
        modified = latest.created_at if latest else now
        return {"creation_time": _datetime(created), "last_modified_time": _datetime(modified)}

    # --- configuration and logs ----------------------------------------------------------------------

    @property
    def settings(self) -> LoopSettings:
        """The configuration in force."""
        return self._settings

    def update_settings(self, settings: LoopSettings) -> None:
        """Validate, persist and apply a configuration at once; a new policy starts a fresh model."""
        settings = settings.validated()
        old = self.settings
        if settings.policy != old.policy:
            check_policy(settings.policy)
        now = self._clock()
        store.save_settings(self._engine, settings_to_dict(settings), now)
        with self._settings_lock:
            self._settings = settings
        if settings.policy != old.policy:
            store.publish_model(self._engine, settings.policy, None, now, now)
        self.refresh()

    def set_policy(self, arguments: str) -> None:
        """Use these VW arguments from now on (a fresh model); ValueError if VW rejects them."""
        self.update_settings(dataclasses.replace(self.settings, policy=" ".join(arguments.split())))

    def reset_policy(self) -> None:
        """Go back to the default policy (a fresh model)."""
        self.set_policy(DEFAULT_POLICY)

    def log_properties(self) -> dict[str, datetime | None]:
        """start_date: when the oldest logged event was ranked (None when the log is empty)."""
        oldest = store.oldest_event_time(self._engine)
        return {"start_date": None if oldest is None else _datetime(oldest)}

    def delete_logs(self) -> None:
        """Delete every logged event and reward."""
        store.delete_events(self._engine)

    # --- life cycle ----------------------------------------------------------------------------------

    def start(self) -> None:
        """Run the background thread: train when leading, and follow what others publish."""
        self._thread = threading.Thread(target=self._background, name="pz-trainer", daemon=True)
        self._thread.start()
        if self._trains and is_sqlite(self._engine):
            self._checkpointer = threading.Thread(target=self._checkpoints, name="pz-checkpoint", daemon=True)
            self._checkpointer.start()

    def close(self) -> None:
        """Stop the threads, finishing queued writes, and release the trainer lead."""
        self._stop.set()
        for thread in (self._thread, self._checkpointer):
            if thread is not None:
                thread.join(timeout=30)
        self._writer.close()
        if self._loop_writer is not self._writer:
            self._loop_writer.close()
        checkpoint(self._engine)
        self._trainer.close()
        self._leadership.release()
        self._engine.dispose()

    # --- internals -----------------------------------------------------------------------------------

    def _prepare(self, request: RankRequest) -> _Prepared:
        settings = self._settings
        featurized = featurize_request(request, settings.max_actions)
        lines = featurized.lines
        event_id = request.event_id or _new_event_id()
        served = self._served
        pmf = _normalised(
            served.policy.predict([featurized.shared, *lines]) if served.policy else [], len(lines)
        )
        model_pick = _draw(pmf, event_id)
        if settings.learning_mode == "Online":
            chosen, probabilities = model_pick, pmf
        else:  # Apprentice and LoggingOnly return the baseline: the first action not excluded.
            chosen, probabilities = 0, [1.0 if i == 0 else 0.0 for i in range(len(lines))]
        actions = [request.actions[i] for i in featurized.allowed]
        now = self._clock()
        row = {
            "event_id": event_id,
            "ranked_at": now,
            "deadline": now + settings.reward_wait_time,
            "context": featurized.context_json,
            "actions": featurized.actions_json,
            "excluded": _ENCODER.encode(request.excluded_actions),
            "chosen_id": actions[chosen].id,
            "probability": probabilities[chosen],
            "mode": settings.learning_mode,
            "baseline_id": actions[0].id,
            "model_choice_id": actions[model_pick].id,
            "model_probability": pmf[model_pick],
            "deferred": request.defer_activation,
            "activated_at": None,
            "first_reward": None,
            "reward_sum": 0.0,
            "reward_count": 0,
            "state": store.PENDING,
        }
        return _Prepared(row, _result(request, event_id, actions, chosen, probabilities))

    def _serve(self, model: store.ModelRow) -> None:
        exploration = self._settings.exploration_percentage
        policy = None
        if model.data is not None:
            policy = Policy(effective_arguments(model.policy, exploration), model.data)
        old, self._served = self._served, _Served(model.version, exploration, policy)
        if old.policy is not None:
            old.policy.close()

    async def _submitted(self, submit: Callable[[asyncio.Future[None]], object]) -> None:
        """Hand a write to the writer and wait, without blocking the event loop, until it is committed."""
        waiter = asyncio.get_running_loop().create_future()
        submit(waiter)
        try:
            async with asyncio.timeout(WRITE_TIMEOUT):
                await waiter
        except TimeoutError:
            raise RankerUnavailable("the event log did not answer in time") from None

    def _checkpoints(self) -> None:
        # A thread of its own, at the service's priority: a training round lasts minutes when the trainer
        # is behind, and SQLite's WAL must not grow meanwhile. One process per database is enough.
        while not self._stop.wait(CHECKPOINT_INTERVAL):
            try:
                checkpoint(self._engine, self._write_lock)
            except Exception:  # the thread must outlive a database hiccup
                logger.exception("the WAL checkpoint failed; retrying in %s s", CHECKPOINT_INTERVAL)

    def _background(self) -> None:
        if self._training_nice:
            self._trainer.lower_priority(self._training_nice)
        while not self._stop.wait(min(REFRESH_INTERVAL, self._settings.model_export_frequency)):
            try:
                self.refresh()
                due = self._clock() - self._last_training >= self._settings.model_export_frequency
                if self._trains and due:
                    self.train_once()
            except Exception:  # the loop must outlive a database hiccup
                logger.exception("the trainer's round failed; retrying next round")


def check_reward(value: object) -> float:
    """A reward is a finite number in -1..1 (Personalizer's range)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidRequest("value must be a finite number.", target="value")
    if not -1.0 <= value <= 1.0:
        raise InvalidRequest("value must be between -1 and 1.", target="value")
    return float(value)


def settings_to_dict(settings: LoopSettings) -> dict[str, Any]:
    """LoopSettings as stored in the database."""
    return dataclasses.asdict(settings)


def settings_from_dict(data: dict[str, Any], fallback: LoopSettings) -> LoopSettings:
    """LoopSettings from the database; unknown or invalid stored values fall back field by field."""
    known = {f.name for f in dataclasses.fields(LoopSettings)}
    try:
        return dataclasses.replace(fallback, **{k: v for k, v in data.items() if k in known}).validated()
    except (TypeError, ValueError):
        logger.warning("stored settings are invalid; keeping the current ones")
        return fallback


def open_learning_loop(
    database_url: str,
    settings: LoopSettings | None = None,
    *,
    clock: Callable[[], float] = time.time,
    run_trainer: bool = True,
    train: bool = True,
    explicit: Collection[str] | None = None,
    training_nice: int = 0,
) -> LearningLoop:
    """Open (creating tables if needed) the loop on DATABASE_URL.

    Stored settings win over `settings` except for the fields named in `explicit` (None: all of them),
    so a restart keeps what PUT /configurations/service changed unless the environment says otherwise.
    run_trainer starts the background thread; with train=False it only follows the models and settings
    other processes publish (a serving process that leaves training to another one). training_nice > 0
    lowers the background thread's CPU priority while it learns (not while it commits).
    """
    engine = create_database_engine(database_url, autocheckpoint=False)
    store.create_tables(engine)
    given = (settings or LoopSettings()).validated()
    stored = store.load_settings(engine)
    if stored is None:
        effective = given
    else:
        fields = {f.name for f in dataclasses.fields(LoopSettings)} if explicit is None else set(explicit)
        current = settings_from_dict(stored, given)
        effective = dataclasses.replace(
            current, **{name: getattr(given, name) for name in fields}
        ).validated()
    if effective.policy != (stored or {}).get("policy", effective.policy):
        check_policy(effective.policy)
    now = clock()
    store.save_settings(engine, settings_to_dict(effective), now)
    latest = store.latest_model(engine)
    if latest is None or latest.policy != effective.policy:
        try:
            store.publish_model(engine, effective.policy, None, now, now)
        except IntegrityError:
            pass  # another process published the first model at the same moment
    loop = LearningLoop(engine, effective, clock, trains=train, training_nice=training_nice)
    loop.refresh()
    if run_trainer:
        loop.start()
    return loop


def _new_event_id() -> str:
    return uuid.UUID(int=_event_ids.getrandbits(128), version=4).hex  # getrandbits runs under the GIL


def _normalised(pmf: list[float], size: int) -> list[float]:
    if len(pmf) != size or not all(math.isfinite(p) and p >= 0 for p in pmf) or sum(pmf) <= 0:
        return [1.0 / size] * size
    total = sum(pmf)
    return [p / total for p in pmf]


def _draw(pmf: list[float], event_id: str) -> int:
    """Sample from pmf with a uniform number derived from the event ID: same ID, same choice."""
    digest = hashlib.sha256(event_id.encode("utf-8")).digest()
    point = int.from_bytes(digest[:8], "big") / 2.0**64
    cumulative = 0.0
    for index, probability in enumerate(pmf):
        cumulative += probability
        if point < cumulative:
            return index
    return max(i for i, p in enumerate(pmf) if p > 0)


def _result(
    request: RankRequest, event_id: str, actions: list[Any], chosen: int, probabilities: list[float]
) -> RankResult:
    order = sorted(range(len(actions)), key=lambda i: (i != chosen, -probabilities[i], i))
    ranking = [RankedAction(actions[i].id, probabilities[i]) for i in order]
    allowed_ids = {a.id for a in actions}
    ranking += [RankedAction(a.id, 0.0) for a in request.actions if a.id not in allowed_ids]
    return RankResult(event_id=event_id, reward_action_id=actions[chosen].id, ranking=ranking)


def _datetime(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)

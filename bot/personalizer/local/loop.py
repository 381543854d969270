# Over 300 lines on purpose: every call of the port (sync, async, multi-slot, imports) and how a loop opens.
"""The learning loop: Personalizer's Rank → Reward contract over Vowpal Wabbit, durable on SQL.

Rank validates, predicts with the latest published model, draws the reward action with a generator
seeded by the event ID (ranking.py), and logs the event (eventlog/) before answering. Rewards and
activations are durable before they return. A background thread trains and publishes every model update
frequency and picks up the models, imports and settings other processes publish (background.py);
the service's other operations are `loop.admin` (admin.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import os
import time
from collections.abc import Callable, Collection

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from bot.db import checkpoint, create_database_engine, write_lock
from bot.personalizer.base import (
    EventNotFound,
    InvalidRequest,
    MultiSlotRankRequest,
    MultiSlotRankResult,
    RankerUnavailable,
    RankRequest,
    RankResult,
    SlotReward,
)
from bot.personalizer.local import store
from bot.personalizer.local.admin import Admin
from bot.personalizer.local.background import Background
from bot.personalizer.local.eventlog import EventLog
from bot.personalizer.local.eventlog.batch import EventIdTaken, storage_fault
from bot.personalizer.local.health import Health
from bot.personalizer.local.imported_logs import (
    ImportedInteraction,
    ImportedObservation,
    ImportSummary,
    ImportTarget,
    import_interactions,
    import_observations,
)
from bot.personalizer.local.imported_slots import ImportedMultiSlotInteraction
from bot.personalizer.local.multislot import MultiSlotDecision, decide_multislot
from bot.personalizer.local.policy import Policy, check_policy, is_multislot
from bot.personalizer.local.ranking import decide
from bot.personalizer.local.serving import Serving
from bot.personalizer.local.settings import LoopSettings, settings_from_dict, settings_to_dict
from bot.personalizer.local.slot_store import NotMultiSlot, add_slot_rewards
from bot.personalizer.local.validation import check_id

logger = logging.getLogger(__name__)


class LearningLoop:
    """Implements the Ranker port, sync and async, over one event log. Thread-safe."""

    def __init__(
        self,
        engine: Engine,
        settings: LoopSettings,
        clock: Callable[[], float],
        trains: bool = True,
        training_nice: int = 0,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._serving = Serving(engine, settings)
        self.health = Health()
        self._events = EventLog(engine, self.health)
        self._background = Background(engine, self._serving, clock, trains, training_nice, self.health)
        self._write_lock = write_lock(engine)
        self.admin = Admin(engine, self._serving, clock)

    # --- the Ranker port -------------------------------------------------------------------------

    def rank(self, request: RankRequest) -> RankResult:
        """Rank the actions, log the event durably, and return the ranking.

        A request that reuses a logged event ID is answered (Azure answered 201) but not logged: the first
        event, and any reward already given for it, stay as they were.
        """
        decision = decide(request, self._serving.settings, self._single_slot_policy(), self._clock())
        try:
            self._events.log_event(decision.row)
        except EventIdTaken:
            _log_reused(decision.row["event_id"])
        return decision.result

    def reward(self, event_id: str, value: float) -> None:
        """Keep a reward for an event (durable on return); EventNotFound for an unknown event."""
        self._events.log_reward(check_id(event_id, "eventId"), check_reward(value), self._clock())

    def activate(self, event_id: str) -> None:
        """Activate an event ranked with defer_activation; EventNotFound for an unknown event."""
        self._events.log_activation(check_id(event_id, "eventId"), self._clock())

    async def rank_async(self, request: RankRequest) -> RankResult:
        """rank() for an event loop: awaits the group commit instead of blocking a thread."""
        decision = decide(request, self._serving.settings, self._single_slot_policy(), self._clock())
        try:
            await self._events.log_event_async(decision.row)
        except EventIdTaken:
            _log_reused(decision.row["event_id"])
        return decision.result

    async def reward_async(self, event_id: str, value: float) -> None:
        """reward() for an event loop."""
        at = self._clock()
        await self._events.log_reward_async(check_id(event_id, "eventId"), check_reward(value), at)

    async def activate_async(self, event_id: str) -> None:
        """activate() for an event loop."""
        await self._events.log_activation_async(check_id(event_id, "eventId"), self._clock())

    # --- multi-slot (Personalizer v1.1-preview.1 and later) --------------------------------------

    def rank_multislot(self, request: MultiSlotRankRequest) -> MultiSlotRankResult:
        """Fill each slot with an action, log the event durably, and return the choices."""
        decision = self._decide_multislot(request)
        try:
            self._events.log_event(decision.row)
        except EventIdTaken:
            _log_reused(decision.row["event_id"])
        return decision.result

    async def rank_multislot_async(self, request: MultiSlotRankRequest) -> MultiSlotRankResult:
        """rank_multislot() for an event loop: awaits the group commit instead of blocking a thread."""
        decision = self._decide_multislot(request)
        try:
            await self._events.log_event_async(decision.row)
        except EventIdTaken:
            _log_reused(decision.row["event_id"])
        return decision.result

    def reward_multislot(self, event_id: str, rewards: list[SlotReward]) -> None:
        """Keep each slot's reward for a multi-slot event (durable on return); EventNotFound if unknown."""
        event_id, values = self._slot_rewards(event_id, rewards)
        try:
            found = add_slot_rewards(self._engine, event_id, values, self._clock(), self._write_lock)
        except NotMultiSlot as exc:
            raise InvalidRequest(str(exc), target="reward") from None
        except SQLAlchemyError:
            raise RankerUnavailable("the event log could not be written") from None
        if not found:
            raise EventNotFound(event_id)

    async def reward_multislot_async(self, event_id: str, rewards: list[SlotReward]) -> None:
        """reward_multislot() for an event loop (its transaction runs in a worker thread)."""
        await asyncio.to_thread(self.reward_multislot, event_id, rewards)

    def _decide_multislot(self, request: MultiSlotRankRequest) -> MultiSlotDecision:
        settings = self._serving.settings
        if not is_multislot(settings.policy):
            raise InvalidRequest(
                "Multi-slot ranking needs a multi-slot policy: set one with --ccb_explore_adf "
                "(PUT /configurations/policy).",
                code="InvalidMultiSlotApiAccess",
            )
        policy = self._serving.served.policy
        if policy is not None and not policy.multislot:
            policy = None  # the multi-slot policy's first model is not published yet: uniform until it is
        return decide_multislot(request, settings, policy, self._clock())

    def _single_slot_policy(self) -> Policy | None:
        settings = self._serving.settings
        if is_multislot(settings.policy):
            raise InvalidRequest(
                "This loop ranks slots (its policy has --ccb_explore_adf): use multi-slot rank, "
                "or set a single-slot policy (--cb_explore_adf).",
            )
        policy = self._serving.served.policy
        return None if policy is not None and policy.multislot else policy

    @staticmethod
    def _slot_rewards(event_id: str, rewards: list[SlotReward]) -> tuple[str, list[tuple[str, float]]]:
        event_id = check_id(event_id, "eventId")
        if not isinstance(rewards, list) or not rewards:
            raise InvalidRequest("reward must be a non-empty list of slot rewards.", target="reward")
        values = []
        for index, reward in enumerate(rewards):
            slot_id = check_id(getattr(reward, "slot_id", None), f"reward[{index}].slotId")
            values.append((slot_id, check_reward(getattr(reward, "value", None))))
        return event_id, values

    # --- logs from elsewhere (Personalizer v1.1-preview.2 and later) ----------------------------

    async def import_interactions_async(
        self, interactions: list[ImportedInteraction | ImportedMultiSlotInteraction]
    ) -> ImportSummary:
        """Log another system's decisions as ranked events (joined and learned as ranks are)."""
        return await import_interactions(self._import_target(), interactions, self._clock())

    async def import_observations_async(self, observations: list[ImportedObservation]) -> ImportSummary:
        """Log another system's rewards and activations; those for events never logged are skipped."""
        return await import_observations(self._import_target(), observations, self._clock())

    def _import_target(self) -> ImportTarget:
        return ImportTarget(self._events, self._engine, self._serving.settings, self._write_lock)

    # --- training and life cycle -------------------------------------------------------------------

    @property
    def settings(self) -> LoopSettings:
        """The configuration in force."""
        return self._serving.settings

    def train_once(self) -> int:
        """Learn every ready event and publish the model now; returns how many events were settled.

        The background thread calls this every model update frequency. With run_trainer=False (tests,
        simulations with an injected clock) call it yourself whenever a model update is due.
        """
        return self._background.train_once()

    def refresh(self) -> None:
        """Pick up settings and models that another process (or an API call) published."""
        self._serving.refresh()

    def start(self) -> None:
        """Run the background threads: train when leading, and follow what others publish."""
        self._background.start()

    def close(self) -> None:
        """Stop the threads, finishing queued writes, and release the trainer lead."""
        self._background.stop()
        self._events.close()
        try:
            checkpoint(self._engine, write_lock(self._engine))  # the writers are done: truncate a grown WAL
        except DBAPIError as exc:
            logger.error("the last WAL checkpoint failed: %s", exc.orig)
        self._background.close()
        self._engine.dispose()


def _log_reused(event_id: str) -> None:
    # The ID only, shortened: it is the client's text.
    logger.warning("a rank reused event ID %.64r: answered, not logged (the first event stays)", event_id)


def check_reward(value: object) -> float:
    """A reward is a finite number in -1..1 (Personalizer's range)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRequest("value must be a finite number.", target="value")
    if not -1.0 <= value <= 1.0 or not math.isfinite(value):  # compared first: 10**400 has no float
        raise InvalidRequest("value must be between -1 and 1.", target="value")
    return float(value)


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
    try:
        effective = _prepare_database(engine, settings, explicit, clock)
    except DBAPIError as exc:  # e.g. a read-only file or a full disk: a clear message, not a traceback
        engine.dispose()
        fault = storage_fault(exc.orig or exc) or _file_fault(engine) or str(exc.orig or exc)
        raise RankerUnavailable(f"the database cannot be opened for writing: {fault}") from None
    loop = LearningLoop(engine, effective, clock, trains=train, training_nice=training_nice)
    loop.refresh()
    if run_trainer:
        loop.start()
    return loop


def _prepare_database(
    engine: Engine,
    settings: LoopSettings | None,
    explicit: Collection[str] | None,
    clock: Callable[[], float],
) -> LoopSettings:
    """Create what is missing, settle the settings in force and publish the first model; those settings."""
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
    return effective


def _file_fault(engine: Engine) -> str:
    """Why a SQLite file cannot be written, when its file system says so ("" otherwise)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return ""
    folder = os.path.dirname(os.path.abspath(database))
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return f"its storage is read-only ({folder} is mounted read-only)"
    except OSError:
        return ""
    if not os.access(folder, os.W_OK):
        return f"its storage is read-only ({folder} is not writable)"
    return ""

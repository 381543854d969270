"""The loop's background work: a thread that follows what others publish and trains when this process leads,
and on SQLite a thread that checkpoints the WAL."""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from bot.db import checkpoint, is_sqlite, write_lock
from bot.personalizer.local import store
from bot.personalizer.local.health import Health, Supervised
from bot.personalizer.local.leadership import Leadership
from bot.personalizer.local.serving import Serving
from bot.personalizer.local.settings import settings_to_dict
from bot.personalizer.local.trainer import Trainer

logger = logging.getLogger(__name__)
REFRESH_INTERVAL = 1.0
# Not more often: the last step of each checkpoint holds the writers' lock (8-34 ms under load), and fewer,
# larger checkpoints stall fewer requests (p99 over a minute).
CHECKPOINT_INTERVAL = 10.0


class Background:
    """Training and following: train_once() on demand, or every model update frequency once started."""

    def __init__(
        self,
        engine: Engine,
        serving: Serving,
        clock: Callable[[], float],
        trains: bool = True,
        training_nice: int = 0,
        health: Health | None = None,
    ) -> None:
        self._engine = engine
        self._health = health or Health()
        self._serving = serving
        self._clock = clock
        self._trains = trains
        self._training_nice = training_nice
        self._leadership = Leadership(engine)
        self._trainer = Trainer(engine, lambda: serving.settings, clock, serving.serve)
        self._write_lock = write_lock(engine)
        self._stop = threading.Event()
        self._threads: list[Supervised] = []
        self._last_training = -math.inf

    def train_once(self) -> int:
        """Learn every ready event and publish the model now, if this process leads; events settled."""
        if not self._leadership.try_acquire():
            return 0
        self._last_training = self._clock()
        return self._trainer.train_once()

    def start(self) -> None:
        """Run the threads: follow and (when leading) train; checkpoint SQLite's WAL where this process trains."""
        # Supervised: a thread that raises anyway is restarted, and /healthz reports it meanwhile.
        self._threads.append(Supervised("pz-trainer", self._follow_and_train, self._health, self._stop))
        if self._trains and is_sqlite(self._engine):
            self._threads.append(Supervised("pz-checkpoint", self._checkpoints, self._health, self._stop))
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop the threads (a training round in progress finishes first)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def close(self) -> None:
        """Release the trainer's model and the lead."""
        self._trainer.close()
        self._leadership.release()

    def _follow_and_train(self) -> None:
        if self._training_nice:
            self._trainer.lower_priority(self._training_nice)
        while not self._stop.wait(min(REFRESH_INTERVAL, self._serving.settings.model_export_frequency)):
            try:
                if self._health.failing("event log"):
                    self._probe_writes()
                self._serving.refresh()
                frequency = self._serving.settings.model_export_frequency
                if self._trains and self._clock() - self._last_training >= frequency:
                    self.train_once()
            except (DBAPIError, OSError) as exc:  # down, full or read-only: reported, tried again next round
                # OSError: SQLite's trainer lock file beside the database cannot be created on such storage.
                cause = exc.orig if isinstance(exc, DBAPIError) else exc
                self._health.failed("trainer", f"the training round failed: {cause}")
            else:
                self._health.recovered("trainer")

    def _probe_writes(self) -> None:
        """After failed writes, write something harmless (the settings in force, again): once it commits,
        writes work again and /healthz says so, even if no client writes meanwhile."""
        store.save_settings(self._engine, settings_to_dict(self._serving.settings), self._clock())
        self._health.recovered("event log")

    def _checkpoints(self) -> None:
        # A thread of its own, at the service's priority: a training round lasts minutes when the trainer
        # is behind, and SQLite's WAL must not grow meanwhile. One process per database is enough.
        while not self._stop.wait(CHECKPOINT_INTERVAL):
            try:
                checkpoint(self._engine, self._write_lock)
            except DBAPIError as exc:  # a full or read-only disk: reported until a checkpoint succeeds
                self._health.failed("checkpoint", f"the WAL checkpoint failed: {exc.orig}")
            else:
                self._health.recovered("checkpoint")

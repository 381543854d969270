"""What a loop serves: the configuration in force and the published model Rank predicts with."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy import Engine

from bot.personalizer.local import store
from bot.personalizer.local.policy import Policy, load_policy
from bot.personalizer.local.settings import LoopSettings, settings_from_dict


@dataclass(frozen=True)
class Served:
    """The model in use: its version, the exploration it was loaded with, and its policy."""

    version: int
    exploration: float
    policy: Policy | None  # None: no model learned yet, every allowed action equally likely


class Serving:
    """The settings and model in force in this process, following what the database publishes. Thread-safe."""

    def __init__(self, engine: Engine, settings: LoopSettings) -> None:
        self._engine = engine
        self._settings = settings
        self._lock = threading.Lock()
        self.served = Served(0, settings.exploration_percentage, None)

    @property
    def settings(self) -> LoopSettings:
        """The configuration in force."""
        return self._settings

    def use_settings(self, settings: LoopSettings) -> None:
        """Apply a configuration at once (already validated and stored)."""
        with self._lock:
            self._settings = settings

    def refresh(self) -> None:
        """Pick up settings and models that another process (or an API call) published."""
        stored = store.load_settings(self._engine)
        if stored is not None:
            with self._lock:
                self._settings = settings_from_dict(stored, self._settings)
        version = store.latest_model_version(self._engine)
        served = self.served
        if version != served.version or served.exploration != self._settings.exploration_percentage:
            latest = store.latest_model(self._engine)
            if latest is not None:
                self.serve(latest)

    def serve(self, model: store.ModelRow) -> None:
        """Predict with this model from now on, releasing the one it replaces."""
        exploration = self._settings.exploration_percentage
        policy = None
        if model.data is not None:
            policy = load_policy(model.policy, exploration, model.data)
        old, self.served = self.served, Served(model.version, exploration, policy)
        if old.policy is not None:
            old.policy.close()

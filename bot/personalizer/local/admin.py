"""Personalizer's service operations on a loop: model export/import/reset, configuration, policy and logs."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Engine

from bot.personalizer.base import InvalidRequest
from bot.personalizer.local import store
from bot.personalizer.local.model_file import checked_model, with_trailer
from bot.personalizer.local.policy import Policy, check_policy, effective_arguments, is_multislot
from bot.personalizer.local.serving import Serving
from bot.personalizer.local.settings import DEFAULT_POLICIES, LoopSettings, settings_to_dict


class Admin:
    """The operations besides rank and reward; each takes effect in this process at once, and in others
    at their next refresh. Bad input raises InvalidRequest naming the field."""

    def __init__(self, engine: Engine, serving: Serving, clock: Callable[[], float]) -> None:
        self._engine = engine
        self._serving = serving
        self._clock = clock

    def export_model(self) -> bytes:
        """The published model (a fresh one if nothing was learned yet) with the trailer an import checks
        (model_file.py: VW's bytes, then their length, SHA-256, policy and feature layout)."""
        latest = store.latest_model(self._engine)
        if latest is not None and latest.data is not None:
            return with_trailer(latest.data, latest.policy)
        settings = self._serving.settings
        policy = Policy(effective_arguments(settings.policy, settings.exploration_percentage))
        try:
            return with_trailer(policy.to_bytes(), settings.policy)
        finally:
            policy.close()

    def import_model(self, data: bytes) -> None:
        """Publish an exported model; InvalidRequest, and nothing changes, unless it is whole (its trailer's
        length and checksum), of the current policy and feature layout, and loads and ranks in VW."""
        settings = self._serving.settings
        try:
            model = checked_model(data, settings.policy)
            policy = Policy(effective_arguments(settings.policy, settings.exploration_percentage), model)
            try:
                if len(policy.predict(["shared |C probe", "|A id=a", "|A id=b"])) != 2:
                    raise ValueError("the model does not rank actions")
            finally:
                policy.close()
        except ValueError as exc:
            raise InvalidRequest(str(exc)) from None
        now = self._clock()
        store.publish_model(self._engine, settings.policy, model, now, now)
        self._serving.refresh()

    def reset_model(self) -> None:
        """Start learning from scratch: the next ranks are uniform again."""
        now = self._clock()
        store.publish_model(self._engine, self._serving.settings.policy, None, now, now)
        self._serving.refresh()

    def model_properties(self) -> dict[str, datetime]:
        """creation_time (of this model's lineage: start, reset or import) and last_modified_time."""
        latest = store.latest_model(self._engine)
        now = self._clock()
        created = latest.lineage_created_at if latest else now
        modified = latest.created_at if latest else now
        return {"creation_time": _datetime(created), "last_modified_time": _datetime(modified)}

    def update_settings(self, settings: LoopSettings) -> None:
        """Validate, persist and apply a configuration at once; a new policy starts a fresh model."""
        old = self._serving.settings
        try:
            settings = settings.validated()
            if settings.policy != old.policy:
                check_policy(settings.policy)
        except InvalidRequest:
            raise
        except ValueError as exc:
            raise InvalidRequest(str(exc)) from None
        if settings.auto_optimization_enabled and is_multislot(settings.policy):
            raise InvalidRequest(  # Personalizer's own refusal: its discovery compared single-slot policies
                "Auto-optimization is not compatible with multi-slot personalization.",
                "ProblemTypeIncompatibleWithAutoOptimization",
            )
        now = self._clock()
        settings = dataclasses.replace(settings, last_configuration_edit_date=now)
        store.save_settings(self._engine, settings_to_dict(settings), now)
        self._serving.use_settings(settings)
        if settings.policy != old.policy:
            store.publish_model(self._engine, settings.policy, None, now, now)
        self._serving.refresh()

    def set_policy(self, arguments: str, name: str = "", as_sent: str = "") -> None:
        """Use these VW arguments from now on (a fresh model); InvalidRequest if VW rejects them.

        `name` and `as_sent` (the arguments as the client wrote them) are kept for GET /configurations/policy.
        """
        policy = " ".join(arguments.split())
        changed = dataclasses.replace(
            self._serving.settings, policy=policy, policy_name=name, policy_arguments=as_sent
        )
        try:
            self.update_settings(changed)
        except InvalidRequest as exc:
            raise InvalidRequest(exc.message, exc.code, target="arguments") from None

    def reset_policy(self) -> None:
        """Go back to the default policy (a fresh model): the project's, or Azure's with default_policy="azure"."""
        self.set_policy(DEFAULT_POLICIES[self._serving.settings.default_policy])

    def log_properties(self) -> dict[str, datetime | None]:
        """start_date: when the oldest logged event was ranked (None when the log is empty)."""
        oldest = store.oldest_event_time(self._engine)
        return {"start_date": None if oldest is None else _datetime(oldest)}

    def delete_logs(self) -> None:
        """Delete every logged event and reward."""
        store.delete_events(self._engine)


def _datetime(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)

"""The learning loop's service configuration: Personalizer's fields, defaults, ranges and parsing."""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import isodate

logger = logging.getLogger(__name__)
AGGREGATIONS = ("earliest", "sum", "average")
LEARNING_MODES = ("Online", "Apprentice", "LoggingOnly")
MIN_REWARD_WAIT = 5.0
MAX_REWARD_WAIT = 2 * 24 * 3600.0
MIN_MODEL_UPDATE = 1.0
MAX_MODEL_UPDATE = 24 * 3600.0
# Chosen by bench/bench_learning.py: see docs/learning.md for the numbers behind it.
# --action_id_feature (the action ID as a feature, the loop's option, not VW's): chosen by bench/bench_action_ids.py.
DEFAULT_POLICY = "--cb_explore_adf -q CA --interactions CCA --synthcover --action_id_feature"
# Personalizer's own default, exactly: what DELETE /configurations/policy restores with default_policy="azure".
AZURE_DEFAULT_POLICY = "--cb_explore_adf --epsilon 0.2 --power_t 0 -l 0.001 --cb_type mtr -q ::"
DEFAULT_POLICIES = {"project": DEFAULT_POLICY, "azure": AZURE_DEFAULT_POLICY}


@dataclass(frozen=True)
class LoopSettings:
    """Service configuration (GET/PUT /configurations/service) plus the learning policy, in seconds."""

    reward_wait_time: float = 600.0
    default_reward: float = 0.0
    reward_aggregation: str = "earliest"
    exploration_percentage: float = 0.2
    model_export_frequency: float = 30.0
    log_retention_days: int = 90
    learning_mode: str = "Online"
    policy: str = DEFAULT_POLICY
    max_actions: int = 50
    # Kept and returned as Azure does (PUT/GET /configurations/service); the evaluation engine reads the
    # auto-optimization ones. Dates are epoch seconds, None until set.
    model_retrain_days: int = 0
    auto_optimization_enabled: bool = False
    auto_optimization_frequency: float = 7 * 24 * 3600.0
    auto_optimization_start_date: float | None = None
    inference_explainability_enabled: bool = False
    last_configuration_edit_date: float | None = None
    # The policy as the client named and wrote it (input-format flags included); "" when never set.
    policy_name: str = ""
    policy_arguments: str = ""
    default_policy: str = "project"  # what resetting the policy restores: "project" or "azure"

    def validated(self) -> LoopSettings:
        """Return self, or raise ValueError naming the field and its allowed range."""
        check_range("rewardWaitTime", self.reward_wait_time, MIN_REWARD_WAIT, MAX_REWARD_WAIT, "PT5S..P2D")
        check_range("defaultReward", self.default_reward, -1.0, 1.0, "-1..1")
        check_range("explorationPercentage", self.exploration_percentage, 0.0, 1.0, "0..1")
        check_range(
            "modelExportFrequency",
            self.model_export_frequency,
            MIN_MODEL_UPDATE,
            MAX_MODEL_UPDATE,
            "PT1S..P1D",
        )
        if self.reward_aggregation not in AGGREGATIONS:
            raise ValueError(f"rewardAggregation must be one of {', '.join(AGGREGATIONS)}")
        if self.learning_mode not in LEARNING_MODES:
            raise ValueError(f"learningMode must be one of {', '.join(LEARNING_MODES)}")
        if not isinstance(self.log_retention_days, int) or not (
            self.log_retention_days == -1 or 1 <= self.log_retention_days <= 36500
        ):
            raise ValueError("logRetentionDays must be -1 (keep forever) or a whole number of days 1..36500")
        if not (1 <= self.max_actions <= 1000):
            raise ValueError("maxActions must be 1..1000")
        if isinstance(self.model_retrain_days, bool) or not isinstance(self.model_retrain_days, int):
            raise ValueError("modelRetrainDays must be a whole number of days")
        if not (0 <= self.model_retrain_days <= 36500):
            raise ValueError("modelRetrainDays must be 0..36500")
        check_range(
            "autoOptimizationFrequency",
            self.auto_optimization_frequency,
            3600.0,
            366 * 86400.0,
            "PT1H..P366D",
        )
        if not {"--cb_explore_adf", "--ccb_explore_adf"}.intersection(self.policy.split()):
            raise ValueError("policy must contain --cb_explore_adf (or --ccb_explore_adf for multi-slot)")
        if self.default_policy not in DEFAULT_POLICIES:
            raise ValueError(f"defaultPolicy must be one of {', '.join(DEFAULT_POLICIES)}")
        return self

    def with_changes(self, **changes: object) -> LoopSettings:
        """A copy with some fields changed, validated."""
        return replace(self, **changes).validated()  # type: ignore[arg-type]


def settings_to_dict(settings: LoopSettings) -> dict[str, Any]:
    """LoopSettings as stored in the database."""
    return dataclasses.asdict(settings)


def settings_from_dict(data: dict[str, Any], fallback: LoopSettings) -> LoopSettings:
    """LoopSettings from the database; unknown or invalid stored values fall back field by field."""
    known = {f.name for f in dataclasses.fields(LoopSettings)}
    try:
        return replace(fallback, **{k: v for k, v in data.items() if k in known}).validated()
    except (TypeError, ValueError):
        logger.warning("stored settings are invalid; keeping the current ones")
        return fallback


def check_range(name: str, value: float, low: float, high: float, shown: str) -> None:
    """Raise ValueError unless value is a finite number in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not _finite(value):
        raise ValueError(f"{name} must be a number in {shown}")
    if not (low <= value <= high):
        raise ValueError(f"{name} must be in {shown}, got {value}")


def parse_duration(text: str) -> float:
    """Seconds from `30`, `2.5` or ISO-8601 (`PT30S`, `PT10M`, `P1D`); ValueError otherwise."""
    text = text.strip()
    if not any(char.isdigit() for char in text):
        raise ValueError(f"{text!r} is not a duration: use seconds (30) or ISO-8601 (PT30S)")
    try:
        seconds = float(text)
    except ValueError:
        try:
            parsed = isodate.parse_duration(text)
        except OverflowError:
            raise ValueError(f"{text!r} is too long a duration") from None
        except (isodate.ISO8601Error, ValueError) as exc:
            raise ValueError(f"{text!r} is not a duration: use seconds (30) or ISO-8601 (PT30S)") from exc
        if not isinstance(parsed, timedelta):  # years or months: no fixed length
            raise ValueError(f"{text!r}: use days, hours, minutes or seconds, not years or months") from None
        seconds = parsed.total_seconds()
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{text!r} is not a non-negative duration")
    return seconds


def _finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        return False


def format_duration(seconds: float) -> str:
    """ISO-8601 as Personalizer writes it: PT30S, PT10M, P2D (days only when whole days)."""
    whole = int(round(seconds))
    if abs(seconds - whole) > 1e-9:
        return f"PT{seconds:g}S"
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    text = "P" + (f"{days}D" if days else "")
    time_part = (
        (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "") + (f"{secs}S" if secs else "")
    )
    if time_part or not days:
        text += "T" + (time_part or "0S")
    return text


ENV_VARIABLES = {
    "PERSONALIZER_REWARD_WAIT_TIME": "reward_wait_time",
    "PERSONALIZER_MODEL_UPDATE_FREQUENCY": "model_export_frequency",
    "PERSONALIZER_DEFAULT_REWARD": "default_reward",
    "PERSONALIZER_REWARD_AGGREGATION": "reward_aggregation",
    "PERSONALIZER_EXPLORATION": "exploration_percentage",
    "PERSONALIZER_LEARNING_MODE": "learning_mode",
    "PERSONALIZER_POLICY": "policy",
    "PERSONALIZER_LOG_RETENTION_DAYS": "log_retention_days",
    "PERSONALIZER_MAX_ACTIONS": "max_actions",
    "PERSONALIZER_DEFAULT_POLICY": "default_policy",
}


def settings_from_env(environ: Mapping[str, str], base: LoopSettings | None = None) -> LoopSettings:
    """Apply the PERSONALIZER_* variables that are set; ValueError names the variable and its range."""
    settings = base or LoopSettings(model_export_frequency=30.0)
    changes: dict[str, object] = {}
    for variable, field_name in ENV_VARIABLES.items():
        raw = environ.get(variable, "").strip()
        if not raw:
            continue
        try:
            changes[field_name] = _parse_env_value(field_name, raw)
            replace(settings, **changes).validated()  # type: ignore[arg-type]
        except ValueError as exc:
            raise ValueError(f"{variable}={raw!r} is invalid: {_env_range(field_name)} ({exc})") from None
    if "policy" not in changes and settings.policy == DEFAULT_POLICY and "default_policy" in changes:
        # A loop that starts afresh starts on the default asked for (a stored policy still wins).
        changes["policy"] = DEFAULT_POLICIES[str(changes["default_policy"])]
    return replace(settings, **changes).validated()  # type: ignore[arg-type]


def _parse_env_value(field_name: str, raw: str) -> object:
    if field_name in ("reward_wait_time", "model_export_frequency"):
        return parse_duration(raw)
    if field_name == "default_reward":
        return float(raw)
    if field_name == "exploration_percentage":
        return float(raw) / 100.0
    if field_name in ("log_retention_days", "max_actions"):
        return int(raw)
    if field_name in ("reward_aggregation", "default_policy"):
        return raw.lower()
    if field_name == "learning_mode":
        by_lower = {mode.lower(): mode for mode in LEARNING_MODES}
        return by_lower.get(raw.lower(), raw)
    return raw


def _env_range(field_name: str) -> str:
    return {
        "reward_wait_time": "a duration from 5 seconds to 2 days, as seconds (600) or ISO-8601 (PT10M)",
        "model_export_frequency": "a duration from 1 second to 1 day, as seconds (30) or ISO-8601 (PT30S)",
        "default_reward": "a number from -1 to 1",
        "reward_aggregation": "earliest, sum or average",
        "exploration_percentage": "a percentage from 0 to 100",
        "learning_mode": "Online, Apprentice or LoggingOnly",
        "policy": "Vowpal Wabbit arguments containing --cb_explore_adf",
        "log_retention_days": "-1 (forever) or 1..36500 days",
        "max_actions": "a whole number from 1 to 1000",
        "default_policy": "project (the measured default) or azure (Personalizer's own default policy)",
    }[field_name]

"""The embedded engine (PERSONALIZER_BACKEND=local): Personalizer's learning loop on Vowpal Wabbit and SQL.

This is its face: the REST service and the app's wiring import from here only. No HTTP, no Slack.
Vowpal Wabbit loads on first use of a name that needs it, so reading settings stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from bot.personalizer.local.imported_logs import ImportedInteraction, ImportedObservation, ImportSummary
from bot.personalizer.local.imported_slots import ImportedMultiSlotInteraction, ImportedSlot
from bot.personalizer.local.limits import check_storable
from bot.personalizer.local.settings import (
    AZURE_DEFAULT_POLICY,
    DEFAULT_POLICIES,
    DEFAULT_POLICY,
    ENV_VARIABLES,
    LEARNING_MODES,
    LoopSettings,
    format_duration,
    parse_duration,
    settings_from_env,
)
from bot.personalizer.local.validation import check_id

if TYPE_CHECKING:
    from bot.personalizer.local.evaluation import (
        EVALUATION,
        FAILED,
        FEATURE_IMPORTANCE,
        RUNNING,
        SUCCEEDED,
        Estimate,
        EvaluationNotFound,
        Evaluations,
        Job,
        JobExists,
        Series,
        estimate,
        evaluations_for,
    )
    from bot.personalizer.local.loop import LearningLoop, check_reward, open_learning_loop

__all__ = [
    "AZURE_DEFAULT_POLICY",
    "DEFAULT_POLICIES",
    "DEFAULT_POLICY",
    "EVALUATION",
    "FAILED",
    "FEATURE_IMPORTANCE",
    "RUNNING",
    "SUCCEEDED",
    "Estimate",
    "EvaluationNotFound",
    "Evaluations",
    "Job",
    "JobExists",
    "Series",
    "estimate",
    "evaluations_for",
    "ENV_VARIABLES",
    "ImportSummary",
    "ImportedInteraction",
    "ImportedMultiSlotInteraction",
    "ImportedObservation",
    "ImportedSlot",
    "LEARNING_MODES",
    "LearningLoop",
    "LoopSettings",
    "check_id",
    "check_storable",
    "check_reward",
    "format_duration",
    "open_learning_loop",
    "parse_duration",
    "settings_from_env",
]
_LAZY = {"LearningLoop": "loop", "check_reward": "loop", "open_learning_loop": "loop"}
# Offline evaluation (evaluation/): loads Vowpal Wabbit and vw-estimators on first use too.
_LAZY.update(
    dict.fromkeys(
        (
            "EVALUATION",
            "FAILED",
            "FEATURE_IMPORTANCE",
            "RUNNING",
            "SUCCEEDED",
            "Estimate",
            "EvaluationNotFound",
        )
        + ("Evaluations", "Job", "JobExists", "Series", "estimate", "evaluations_for"),
        "evaluation",
    )
)


def __getattr__(name: str) -> Any:
    """The loop's names, imported on first use (they load Vowpal Wabbit)."""
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

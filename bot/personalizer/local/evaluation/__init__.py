"""Offline evaluation, feature importance and auto-optimization over the learning loop's log."""

from bot.personalizer.local.evaluation.decision import Decision, decide
from bot.personalizer.local.evaluation.discovery import SPACE as DISCOVERY_SPACE
from bot.personalizer.local.evaluation.jobs import (
    AUTO,
    EVALUATION,
    FAILED,
    FEATURE_IMPORTANCE,
    MANUAL,
    RUNNING,
    SUCCEEDED,
    Job,
    JobExists,
)
from bot.personalizer.local.evaluation.offpolicy import Estimate, Series, estimate
from bot.personalizer.local.evaluation.service import EvaluationNotFound, Evaluations, evaluations_for

__all__ = [
    "AUTO",
    "DISCOVERY_SPACE",
    "EVALUATION",
    "FAILED",
    "FEATURE_IMPORTANCE",
    "MANUAL",
    "RUNNING",
    "SUCCEEDED",
    "Decision",
    "Estimate",
    "EvaluationNotFound",
    "Evaluations",
    "Job",
    "JobExists",
    "Series",
    "decide",
    "estimate",
    "evaluations_for",
]

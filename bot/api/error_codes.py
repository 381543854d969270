"""Which error code each API version gives a refused request, per operation.

v1.0 knows three codes (BadRequest, ResourceNotFound, InternalServerError); the later versions name what
failed: a bad rank is InvalidRankRequest, a bad reward InvalidRewardRequest, and so on (the PersonalizerError
enum of Microsoft's v1.1 and 2022-09-01-preview specifications).
"""

from __future__ import annotations

from bot.api.versions import ApiVersion

SPECIFIC = {
    "rank": "InvalidRankRequest",
    "multislot_rank": "InvalidRankRequest",
    "reward": "InvalidRewardRequest",
    "multislot_reward": "InvalidRewardRequest",
    "activate": "InvalidEventIdToActivate",
    "multislot_activate": "InvalidEventIdToActivate",
    "put_service": "InvalidServiceConfiguration",
    "put_policy": "InvalidPolicyConfiguration",
    "put_model": "InvalidModelImportFormat",
    "post_interactions": "InvalidRequest",
    "post_observations": "InvalidRequest",
    "create_evaluation": "InvalidEvaluationContract",
    "put_evaluation": "InvalidEvaluationContract",
    "apply_from_evaluation": "InvalidRequest",
    "put_feature_importance": "InvalidContract",
}


def bad_request_code(version: ApiVersion | None, operation: str | None, code: str) -> str:
    """The code for a 400: the engine's own code when it named one, else the version's code for the operation."""
    if code != "BadRequest" or version is None or not version.specific_errors or operation is None:
        return code
    return SPECIFIC.get(operation, code)

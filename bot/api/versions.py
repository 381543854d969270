"""Personalizer's API versions and the operations each one serves: the one table routing is built from.

Read from Microsoft's specifications (azure-rest-api-specs, `specification/cognitiveservices/data-plane/
Personalizer/`): the four versions in the path (`/personalizer/v1.0/...`) and 2022-09-01-preview, which clients
name in the query (`/personalizer/...?api-version=2022-09-01-preview`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PERSONALIZER = "/personalizer"
QUERY_VERSION = "2022-09-01-preview"


@dataclass(frozen=True)
class Operation:
    """One REST operation: the handler's name, its method and path (below the version's base path)."""

    name: str
    method: str
    path: str
    operation_id: str

    @property
    def pattern(self) -> re.Pattern[str]:
        """The path as a regular expression; a `{...}` part is any non-empty text (an event ID may hold '/')."""
        return re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "(.+)", re.escape(self.path)) + "$", re.DOTALL)


OPERATIONS: tuple[Operation, ...] = (
    Operation("rank", "POST", "/rank", "Rank"),
    Operation("reward", "POST", "/events/{eventId}/reward", "Events_Reward"),
    Operation("activate", "POST", "/events/{eventId}/activate", "Events_Activate"),
    Operation("multislot_rank", "POST", "/multislot/rank", "MultiSlot_Rank"),
    Operation("multislot_reward", "POST", "/multislot/events/{eventId}/reward", "MultiSlotEvents_Reward"),
    Operation(
        "multislot_activate", "POST", "/multislot/events/{eventId}/activate", "MultiSlotEvents_Activate"
    ),
    Operation("get_service", "GET", "/configurations/service", "ServiceConfiguration_Get"),
    Operation("put_service", "PUT", "/configurations/service", "ServiceConfiguration_Update"),
    Operation(
        "apply_from_evaluation",
        "POST",
        "/configurations/applyFromEvaluation",
        "ServiceConfiguration_ApplyFromEvaluation",
    ),
    Operation("get_policy", "GET", "/configurations/policy", "Policy_Get"),
    Operation("put_policy", "PUT", "/configurations/policy", "Policy_Update"),
    Operation("delete_policy", "DELETE", "/configurations/policy", "Policy_Reset"),
    Operation("get_model", "GET", "/model", "Model_Get"),
    Operation("put_model", "PUT", "/model", "Model_Import"),
    Operation("delete_model", "DELETE", "/model", "Model_Reset"),
    Operation("get_model_properties", "GET", "/model/properties", "Model_GetProperties"),
    Operation("get_log_properties", "GET", "/logs/properties", "Log_GetProperties"),
    Operation("delete_logs", "DELETE", "/logs", "Log_Delete"),
    Operation("post_interactions", "POST", "/logs/interactions", "Log_Interactions"),
    Operation("post_observations", "POST", "/logs/observations", "Log_Observations"),
    Operation("list_evaluations", "GET", "/evaluations", "Evaluations_List"),
    Operation("create_evaluation", "POST", "/evaluations", "Evaluations_Create"),
    Operation("put_evaluation", "PUT", "/evaluations/{evaluationId}", "Evaluations_Create"),
    Operation("get_evaluation", "GET", "/evaluations/{evaluationId}", "Evaluations_Get"),
    Operation("delete_evaluation", "DELETE", "/evaluations/{evaluationId}", "Evaluations_Delete"),
    Operation("list_feature_importances", "GET", "/featureImportances", "FeatureImportances_List"),
    Operation(
        "put_feature_importance",
        "PUT",
        "/featureImportances/{featureImportanceId}",
        "FeatureImportances_Create",
    ),
    Operation(
        "get_feature_importance", "GET", "/featureImportances/{featureImportanceId}", "FeatureImportances_Get"
    ),
    Operation(
        "delete_feature_importance",
        "DELETE",
        "/featureImportances/{featureImportanceId}",
        "FeatureImportances_Delete",
    ),
)
BY_NAME = {operation.name: operation for operation in OPERATIONS}

_V1_0 = frozenset(
    {
        "rank",
        "reward",
        "activate",
        "get_service",
        "put_service",
        "get_policy",
        "put_policy",
        "delete_policy",
        "get_model",
        "delete_model",
        "get_model_properties",
        "get_log_properties",
        "delete_logs",
        "list_evaluations",
        "create_evaluation",
        "get_evaluation",
        "delete_evaluation",
    }
)
_MULTISLOT = frozenset({"multislot_rank", "multislot_reward", "multislot_activate", "apply_from_evaluation"})
_PREVIEW_1 = _V1_0 | _MULTISLOT
_PREVIEW_2 = _PREVIEW_1 | {"post_interactions", "post_observations"}
_PREVIEW_3 = _PREVIEW_2 | {"put_model"}
_FEATURE_IMPORTANCE = frozenset(
    {
        "list_feature_importances",
        "put_feature_importance",
        "get_feature_importance",
        "delete_feature_importance",
    }
)
_2022_09 = (_PREVIEW_3 - {"create_evaluation"}) | {"put_evaluation"} | _FEATURE_IMPORTANCE
# Served on v1.0 although Microsoft's v1.0 specification has no PUT /model: deployments of this service
# import models on v1.0 (docs/service.md lists it among the differences from Azure).
V1_0_EXTENSIONS = frozenset({"put_model"})


@dataclass(frozen=True)
class ApiVersion:
    """One API version: its name, where clients put it, and the operations it has."""

    name: str
    in_path: bool
    operations: frozenset[str]
    # v1.0's error codes are BadRequest, ResourceNotFound and InternalServerError only; later versions name
    # the failing operation (InvalidRankRequest, InvalidRewardRequest, ...).
    specific_errors: bool = True

    @property
    def base(self) -> str:
        """The base path: /personalizer/v1.0, or /personalizer for a version named in the query."""
        return f"{PERSONALIZER}/{self.name}" if self.in_path else PERSONALIZER

    def serves(self, operation: str) -> bool:
        """True when this version has the operation (Microsoft's or one of ours, see V1_0_EXTENSIONS)."""
        return operation in self.operations or (self.name == "v1.0" and operation in V1_0_EXTENSIONS)


VERSIONS: dict[str, ApiVersion] = {
    v.name: v
    for v in (
        ApiVersion("v1.0", True, _V1_0, specific_errors=False),
        ApiVersion("v1.1-preview.1", True, _PREVIEW_1),
        ApiVersion("v1.1-preview.2", True, _PREVIEW_2),
        ApiVersion("v1.1-preview.3", True, _PREVIEW_3),
        ApiVersion(QUERY_VERSION, False, _2022_09),
    )
}
PATH_VERSIONS = {name: v for name, v in VERSIONS.items() if v.in_path}
QUERY_VERSIONS = {name: v for name, v in VERSIONS.items() if not v.in_path}
_COMPILED = [(operation, operation.pattern) for operation in OPERATIONS]


@dataclass(frozen=True)
class Match:
    """What a request path names: the version, the operation (None: no such path) and the path parameter."""

    version: ApiVersion
    operation: Operation | None
    parameter: str | None = None
    allowed: tuple[str, ...] = ()  # the methods this version serves at the path (for 405's Allow)


def match(version: ApiVersion, method: str, relative: str) -> Match:
    """Find the operation `version` serves for `method` at `relative` (the path below its base)."""
    allowed: list[str] = []
    found: tuple[Operation, str | None] | None = None
    for operation, pattern in _COMPILED:
        hit = pattern.match(relative)
        if hit is None or not version.serves(operation.name):
            continue
        allowed.append(operation.method)
        if operation.method == method:
            found = (operation, hit.group(1) if hit.groups() else None)
    if found is None:
        return Match(version, None, None, tuple(allowed))
    return Match(version, found[0], found[1], tuple(allowed))


def split_path_version(path: str) -> tuple[ApiVersion | None, str]:
    """(version, the rest) for /personalizer/<version>/...; (None, path below /personalizer) otherwise."""
    rest = path[len(PERSONALIZER) :]
    if rest.startswith("/"):
        segment, _, tail = rest[1:].partition("/")
        version = PATH_VERSIONS.get(segment)
        if version is not None:
            return version, "/" + tail if tail else ""
    return None, rest


def served_table() -> list[tuple[Operation, dict[str, bool]]]:
    """Every operation with, per version, whether it is served (for docs and tests)."""
    return [
        (operation, {v.name: v.serves(operation.name) for v in VERSIONS.values()}) for operation in OPERATIONS
    ]

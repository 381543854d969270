"""Evaluation and feature-importance operations as functions of a request's parts, for every version.

Each returns (status, JSON body or None, headers); evaluation_routes.py adapts them to Starlette.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bot.api import evaluation_wire as wire
from bot.personalizer.base import InvalidRequest
from bot.personalizer.local import (
    EVALUATION,
    FEATURE_IMPORTANCE,
    EvaluationNotFound,
    Evaluations,
    JobExists,
)

Answer = tuple[int, Any, dict[str, str]]
V2022 = "2022-09-01-preview"
MAX_PAGE = 200
WINDOWS = {"expanding": False, "rolling": True}


class NotFound(LookupError):
    """The evaluation or feature importance does not exist: 404 ResourceNotFound."""


class Conflict(ValueError):
    """The ID is taken: 409 Conflict."""


def _bad(exc: Exception, target: str | None = None) -> InvalidRequest:
    return InvalidRequest(str(exc), target=target)


class EvaluationOperations:
    """The operations over one loop's Evaluations."""

    def __init__(self, evaluations: Evaluations) -> None:
        self.evaluations = evaluations

    # --- v1.0 and v1.1-preview --------------------------------------------------------------------

    def create_v1(self, body: Any, base_url: str) -> Answer:
        """POST /evaluations: 201 with the new evaluation (pending) and its Location."""
        job_id = str(uuid.uuid4())
        self._submit(job_id, body)
        job = self.evaluations.get(EVALUATION, job_id)
        return 201, wire.evaluation_v1(job), {"location": f"{base_url}/evaluations/{job_id}"}

    def list_v1(self) -> Answer:
        """GET /evaluations (v1.0): every evaluation, as an array."""
        return 200, [wire.evaluation_v1(j) for j in self.evaluations.list_jobs(EVALUATION)], {}

    def get_v1(self, evaluation_id: str) -> Answer:
        """GET /evaluations/{id} (v1.0)."""
        return 200, wire.evaluation_v1(self._job(EVALUATION, evaluation_id)), {}

    # --- 2022-09-01-preview -------------------------------------------------------------------------

    def create_2022(self, evaluation_id: str, body: Any) -> Answer:
        """PUT /evaluations/{id}: 200 with no body; the evaluation runs in the background."""
        self._submit(evaluation_id, body)
        return 200, None, {}

    def get_2022(self, evaluation_id: str, query: Mapping[str, str]) -> Answer:
        """GET /evaluations/{id}, with optional startTime, endTime, intervalInMinutes and window."""
        job = self._job(EVALUATION, evaluation_id)
        interval = _interval(query.get("intervalInMinutes"))
        window = (query.get("window") or "Expanding").lower()
        if window not in WINDOWS:
            raise InvalidRequest("window must be Expanding or Rolling", target="window")
        start = _optional_time(query.get("startTime"), "startTime")
        end = _optional_time(query.get("endTime"), "endTime")
        return 200, wire.evaluation_2022(job, interval, WINDOWS[window], start, end), {}

    def list_2022(self, kind: str, query: Mapping[str, str], base_url: str) -> Answer:
        """GET /evaluations or /featureImportances: {value, nextLink?}, paged by top, skip and maxpagesize."""
        jobs = self.evaluations.list_jobs(kind)
        skip = _count(query.get("skip"), "skip", 0)
        top = _count(query.get("top"), "top", len(jobs))
        page = min(_count(query.get("maxpagesize"), "maxpagesize", MAX_PAGE), MAX_PAGE)
        wanted = jobs[skip : skip + top]
        body: dict[str, Any] = {"value": [wire.listing(j) for j in wanted[:page]]}
        if len(wanted) > page:
            path = "evaluations" if kind == EVALUATION else "featureImportances"
            body["nextLink"] = (
                f"{base_url}/{path}?api-version={V2022}&top={top - page}&skip={skip + page}&maxpagesize={page}"
            )
        return 200, body, {}

    def create_importance(self, importance_id: str, body: Any) -> Answer:
        """PUT /featureImportances/{id}: 200 with no body."""
        try:
            name, start, end = wire.parse_importance_contract(body)
            self.evaluations.submit_feature_importance(importance_id, name, start, end)
        except JobExists as exc:
            raise Conflict(str(exc)) from None
        except ValueError as exc:
            raise _bad(exc) from None
        return 200, None, {}

    def get_importance(self, importance_id: str) -> Answer:
        """GET /featureImportances/{id}."""
        return 200, wire.feature_importance_2022(self._job(FEATURE_IMPORTANCE, importance_id)), {}

    # --- every version --------------------------------------------------------------------------------

    def delete(self, kind: str, job_id: str) -> Answer:
        """DELETE /evaluations/{id} or /featureImportances/{id}: 204."""
        try:
            self.evaluations.delete(kind, job_id)
        except EvaluationNotFound:
            raise NotFound(job_id) from None
        return 204, None, {}

    def apply(self, body: Any) -> Answer:
        """POST /configurations/applyFromEvaluation {evaluationId, policyName}: 204."""
        if not isinstance(body, dict):
            raise InvalidRequest("the body must be {evaluationId, policyName}")
        evaluation_id, policy_name = body.get("evaluationId"), body.get("policyName")
        if not isinstance(evaluation_id, str) or not evaluation_id:
            raise InvalidRequest("evaluationId is required", target="evaluationId")
        if not isinstance(policy_name, str) or not policy_name:
            raise InvalidRequest("policyName is required", target="policyName")
        try:
            self.evaluations.apply(evaluation_id, policy_name)
        except EvaluationNotFound:
            raise NotFound(evaluation_id) from None
        except ValueError as exc:
            raise _bad(exc, "policyName") from None
        return 204, None, {}

    # --- helpers --------------------------------------------------------------------------------------

    def _submit(self, job_id: str, body: Any) -> None:
        if not 1 <= len(job_id) <= 256:
            raise InvalidRequest("the evaluation ID must have 1..256 characters", target="evaluationId")
        try:
            name, start, end, policies, discover = wire.parse_contract(body)
            self.evaluations.submit_evaluation(job_id, name, start, end, policies, discover)
        except JobExists as exc:
            raise Conflict(str(exc)) from None
        except ValueError as exc:
            raise _bad(exc) from None

    def _job(self, kind: str, job_id: str) -> Any:
        try:
            return self.evaluations.get(kind, job_id)
        except EvaluationNotFound:
            raise NotFound(job_id) from None


def _interval(text: str | None) -> int:
    if text is None or text == "":
        return wire.DEFAULT_INTERVAL_MINUTES
    minutes = _count(text, "intervalInMinutes", wire.DEFAULT_INTERVAL_MINUTES)
    if minutes < 5 or minutes % 5:
        raise InvalidRequest("intervalInMinutes must be a multiple of 5", target="intervalInMinutes")
    return minutes


def _count(text: str | None, name: str, default: int) -> int:
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise InvalidRequest(f"{name} must be a whole number", target=name) from None
    if value < 0:
        raise InvalidRequest(f"{name} must not be negative", target=name)
    return value


def _optional_time(text: str | None, name: str) -> float | None:
    if not text:
        return None
    for parse in (wire.parse_time, _compact_time):
        try:
            return parse(text, name)
        except ValueError:
            continue
    raise InvalidRequest(f"{name} must be an ISO-8601 date-time", target=name)


def _compact_time(text: str, name: str) -> float:
    """`20220920T000000` as the Python SDK's tests send it."""
    return datetime.strptime(text, "%Y%m%dT%H%M%S").replace(tzinfo=UTC).timestamp()

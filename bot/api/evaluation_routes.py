"""Evaluation, feature-importance and apply-from-evaluation operations, for every API version that has them.

v1.0 (and v1.1-preview.*): `POST /evaluations` → 201 with the evaluation; `GET /evaluations` → a list;
`GET/DELETE /evaluations/{id}`. v1.1-preview.* and 2022-09-01-preview: `POST /configurations/applyFromEvaluation`
→ 204. 2022-09-01-preview: `PUT /evaluations/{id}` → 200 with no body, then `GET` shows Running, later
Succeeded; `PUT/GET/DELETE /featureImportances/{id}` and `GET /featureImportances`.
Each operation is a function of the request's parts returning (status, JSON body or None, headers).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.api import evaluation_wire as wire
from bot.api import wire as json_wire
from bot.api.errors import TooLarge, error_body, error_response
from bot.api.inbound import read_body
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
    from datetime import UTC, datetime

    return datetime.strptime(text, "%Y%m%dT%H%M%S").replace(tzinfo=UTC).timestamp()


# --- Starlette handlers ------------------------------------------------------------------------------

Operation = Callable[["EvaluationRoutes", Request], Awaitable[Answer]]
Handler = Callable[["EvaluationRoutes", Request], Awaitable[Response]]
V2022_PREFIX = "/personalizer"


def answered(handler: Operation) -> Handler:
    """Turn the operations' outcomes and exceptions into Personalizer's responses."""

    @functools.wraps(handler)
    async def wrapper(self: EvaluationRoutes, request: Request) -> Response:
        if self.operations is None:
            body = error_body("NotImplemented", "Offline evaluation is not running on this service.")
            return JSONResponse(body, status_code=501)
        try:
            status, payload, headers = await handler(self, request)
        except ClientDisconnect:
            return Response(status_code=400)
        except NotFound as exc:
            return JSONResponse(
                error_body("ResourceNotFound", f"No resource with ID {exc}."), status_code=404
            )
        except Conflict as exc:
            return JSONResponse(error_body("Conflict", str(exc)), status_code=409)
        except (InvalidRequest, TooLarge) as exc:
            return error_response(exc)
        if payload is None:
            return Response(status_code=status, headers=headers)
        return JSONResponse(payload, status_code=status, headers=headers)

    return wrapper


class EvaluationRoutes:
    """One method per evaluation or feature-importance operation, each taking the Starlette request.

    The shape follows the version: paths under /personalizer/v1.x answer v1.0's Evaluation (POST creates,
    201), /personalizer/... with ?api-version=2022-09-01-preview answers that version's (PUT creates, 200).
    """

    def __init__(self, loop: Any, max_json_bytes: int, evaluations: Evaluations | None = None) -> None:
        self.loop = loop
        self.max_json_bytes = max_json_bytes
        self.operations = None if evaluations is None else EvaluationOperations(evaluations)

    def routes(self, v1_prefixes: list[str]) -> list[Route]:
        """Starlette routes for the v1.x prefixes given and for 2022-09-01-preview."""
        out: list[Route] = []
        for prefix in v1_prefixes:
            out += [
                Route(f"{prefix}/evaluations", self.list_evaluations, methods=["GET"]),
                Route(f"{prefix}/evaluations", self.create_evaluation, methods=["POST"]),
                Route(f"{prefix}/evaluations/{{evaluationId:path}}", self.get_evaluation, methods=["GET"]),
                Route(
                    f"{prefix}/evaluations/{{evaluationId:path}}", self.delete_evaluation, methods=["DELETE"]
                ),
            ]
            if prefix != "/personalizer/v1.0":
                out.append(
                    Route(
                        f"{prefix}/configurations/applyFromEvaluation",
                        self.apply_from_evaluation,
                        methods=["POST"],
                    )
                )
        p = V2022_PREFIX
        out += [
            Route(f"{p}/evaluations", self.list_evaluations, methods=["GET"]),
            Route(f"{p}/evaluations/{{evaluationId:path}}", self.create_evaluation, methods=["PUT"]),
            Route(f"{p}/evaluations/{{evaluationId:path}}", self.get_evaluation, methods=["GET"]),
            Route(f"{p}/evaluations/{{evaluationId:path}}", self.delete_evaluation, methods=["DELETE"]),
            Route(f"{p}/configurations/applyFromEvaluation", self.apply_from_evaluation, methods=["POST"]),
            Route(f"{p}/featureImportances", self.list_feature_importances, methods=["GET"]),
            Route(
                f"{p}/featureImportances/{{featureImportanceId:path}}",
                self.create_feature_importance,
                methods=["PUT"],
            ),
            Route(
                f"{p}/featureImportances/{{featureImportanceId:path}}",
                self.get_feature_importance,
                methods=["GET"],
            ),
            Route(
                f"{p}/featureImportances/{{featureImportanceId:path}}",
                self.delete_feature_importance,
                methods=["DELETE"],
            ),
        ]
        return out

    async def _body(self, request: Request) -> Any:
        return json_wire.parse_json(await read_body(request.scope, request.receive, self.max_json_bytes))

    def _ops(self) -> EvaluationOperations:
        assert self.operations is not None  # answered() checked
        return self.operations

    @answered
    async def list_evaluations(self, request: Request) -> Answer:
        """GET /evaluations."""
        if _is_v1(request):
            return await run_in_threadpool(self._ops().list_v1)
        return await run_in_threadpool(
            self._ops().list_2022, EVALUATION, request.query_params, _base(request)
        )

    @answered
    async def get_evaluation(self, request: Request) -> Answer:
        """GET /evaluations/{evaluationId}."""
        evaluation_id = request.path_params["evaluationId"]
        if _is_v1(request):
            return await run_in_threadpool(self._ops().get_v1, evaluation_id)
        return await run_in_threadpool(self._ops().get_2022, evaluation_id, request.query_params)

    @answered
    async def create_evaluation(self, request: Request) -> Answer:
        """POST /evaluations (v1.0 .. v1.1-preview.3) and PUT /evaluations/{evaluationId} (2022-09-01-preview)."""
        body = await self._body(request)
        if request.method == "POST":
            return await run_in_threadpool(self._ops().create_v1, body, _base(request))
        return await run_in_threadpool(self._ops().create_2022, request.path_params["evaluationId"], body)

    @answered
    async def delete_evaluation(self, request: Request) -> Answer:
        """DELETE /evaluations/{evaluationId}."""
        return await run_in_threadpool(self._ops().delete, EVALUATION, request.path_params["evaluationId"])

    @answered
    async def apply_from_evaluation(self, request: Request) -> Answer:
        """POST /configurations/applyFromEvaluation."""
        body = await self._body(request)
        return await run_in_threadpool(self._ops().apply, body)

    @answered
    async def list_feature_importances(self, request: Request) -> Answer:
        """GET /featureImportances (2022-09-01-preview)."""
        return await run_in_threadpool(
            self._ops().list_2022, FEATURE_IMPORTANCE, request.query_params, _base(request)
        )

    @answered
    async def get_feature_importance(self, request: Request) -> Answer:
        """GET /featureImportances/{featureImportanceId}."""
        return await run_in_threadpool(self._ops().get_importance, request.path_params["featureImportanceId"])

    @answered
    async def create_feature_importance(self, request: Request) -> Answer:
        """PUT /featureImportances/{featureImportanceId}."""
        body = await self._body(request)
        return await run_in_threadpool(
            self._ops().create_importance, request.path_params["featureImportanceId"], body
        )

    @answered
    async def delete_feature_importance(self, request: Request) -> Answer:
        """DELETE /featureImportances/{featureImportanceId}."""
        return await run_in_threadpool(
            self._ops().delete, FEATURE_IMPORTANCE, request.path_params["featureImportanceId"]
        )


def _is_v1(request: Request) -> bool:
    return "/v1." in request.url.path


def _base(request: Request) -> str:
    """The version's base URL (…/personalizer/v1.0, or …/personalizer for dated versions)."""
    path = request.url.path
    for marker in ("/evaluations", "/featureImportances", "/configurations"):
        if marker in path:
            path = path[: path.index(marker)]
            break
    return f"{request.url.scheme}://{request.url.netloc}{path}"

"""Evaluation, feature-importance and apply-from-evaluation operations, for every API version that has them.

v1.0 (and v1.1-preview.*): `POST /evaluations` → 201 with the evaluation; `GET /evaluations` → a list;
`GET/DELETE /evaluations/{id}`. v1.1-preview.* and 2022-09-01-preview: `POST /configurations/applyFromEvaluation`
→ 204. 2022-09-01-preview: `PUT /evaluations/{id}` → 200 with no body, then `GET` shows Running, later
Succeeded; `PUT/GET/DELETE /featureImportances/{id}` and `GET /featureImportances`.
The operations themselves are in evaluation_operations.py; here, their Starlette handlers and routes.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.api import wire as json_wire
from bot.api.errors import TooLarge, error_body, error_response
from bot.api.evaluation_operations import Answer, Conflict, EvaluationOperations, NotFound
from bot.api.inbound import read_body
from bot.personalizer.base import InvalidRequest
from bot.personalizer.local import EVALUATION, FEATURE_IMPORTANCE, Evaluations

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

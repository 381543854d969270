"""Offline evaluations and feature importances (Personalizer's evaluation operations): the handlers.

Every API version that has these operations routes them here. Until the evaluation engine serves them,
each answers as Personalizer does for an evaluation that does not exist, and creating one is refused.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.api.errors import error_body


class EvaluationRoutes:
    """One method per evaluation or feature-importance operation, each taking the Starlette request."""

    def __init__(self, loop: Any, max_json_bytes: int) -> None:
        self.loop = loop
        self.max_json_bytes = max_json_bytes

    async def list_evaluations(self, request: Request) -> Response:
        """GET /evaluations: every evaluation (none yet)."""
        return JSONResponse([])

    async def get_evaluation(self, request: Request) -> Response:
        """GET /evaluations/{evaluationId}."""
        return _not_found("evaluation", request.path_params.get("evaluationId", ""))

    async def create_evaluation(self, request: Request) -> Response:
        """POST /evaluations (v1.0 .. v1.1-preview.3) and PUT /evaluations/{evaluationId} (2022-09-01-preview)."""
        return _not_available()

    async def delete_evaluation(self, request: Request) -> Response:
        """DELETE /evaluations/{evaluationId}."""
        return _not_found("evaluation", request.path_params.get("evaluationId", ""))

    async def apply_from_evaluation(self, request: Request) -> Response:
        """POST /configurations/applyFromEvaluation."""
        return _not_available()

    async def list_feature_importances(self, request: Request) -> Response:
        """GET /featureImportances (2022-09-01-preview)."""
        return JSONResponse({"value": []})

    async def get_feature_importance(self, request: Request) -> Response:
        """GET /featureImportances/{featureImportanceId}."""
        return _not_found("feature importance", request.path_params.get("featureImportanceId", ""))

    async def create_feature_importance(self, request: Request) -> Response:
        """PUT /featureImportances/{featureImportanceId}."""
        return _not_available()

    async def delete_feature_importance(self, request: Request) -> Response:
        """DELETE /featureImportances/{featureImportanceId}."""
        return _not_found("feature importance", request.path_params.get("featureImportanceId", ""))


def _not_found(kind: str, identifier: str) -> Response:
    return JSONResponse(error_body("ResourceNotFound", f"No {kind} with ID {identifier!r}."), status_code=404)


def _not_available() -> Response:
    body = error_body("NotImplemented", "Offline evaluation is not available on this service yet.")
    return JSONResponse(body, status_code=501)

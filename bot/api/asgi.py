"""The service's ASGI app: every API version's operations routed from one table (versions.py).

PersonalizerRouter (dispatch.py) is in front: it finds the version and the operation, checks the key, and
hands rank, reward and activate to the hot path (hot_path.py, plain ASGI) and the rest to routes.py and
evaluation_routes.py. Starlette behind it serves /healthz, each version's OpenAPI description, and the
lifespan.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from bot.api.dashboard.pages import build_dashboard
from bot.api.dispatch import Handler, PersonalizerRouter
from bot.api.errors import EXCEPTION_HANDLERS, error_body, versioned_error_payload
from bot.api.evaluation_routes import EvaluationRoutes
from bot.api.hot_path import EventOperations
from bot.api.inbound import MAX_JSON_BYTES, OPEN_PATHS, KeyMiddleware
from bot.api.openapi import every_version_spec, load_spec
from bot.api.routes import AdminOperations
from bot.api.versions import BY_NAME, PERSONALIZER, QUERY_VERSION, VERSIONS, Match

# Evaluation and feature-importance operations: our operation names -> EvaluationRoutes' methods.
EVALUATION_HANDLERS = {
    "list_evaluations": "list_evaluations",
    "create_evaluation": "create_evaluation",
    "put_evaluation": "create_evaluation",
    "get_evaluation": "get_evaluation",
    "delete_evaluation": "delete_evaluation",
    "apply_from_evaluation": "apply_from_evaluation",
    "list_feature_importances": "list_feature_importances",
    "put_feature_importance": "create_feature_importance",
    "get_feature_importance": "get_feature_importance",
    "delete_feature_importance": "delete_feature_importance",
}


def build_app(
    loop: Any,
    key: str,
    *,
    max_json_bytes: int = MAX_JSON_BYTES,
    lifespan: Any = None,
    evaluations: Any = None,
) -> ASGIApp:
    """The ASGI app: every Personalizer API version over `loop`, guarded by `key`.

    With `evaluations` (the loop's Evaluations), the evaluation operations and the dashboard too.
    """
    if not key:
        raise ValueError("PERSONALIZER_KEY is required: the service never runs without a key")
    admin = AdminOperations(loop, key, max_json_bytes)
    evaluation = EvaluationRoutes(loop, max_json_bytes, evaluations)
    dashboard = [] if evaluations is None else [build_dashboard(loop, evaluations, key)]
    handlers: dict[str, Handler] = {}
    for name in BY_NAME:
        if name in EVALUATION_HANDLERS:
            handlers[name] = _without_match(getattr(evaluation, EVALUATION_HANDLERS[name]))
        elif hasattr(admin, name):
            handlers[name] = getattr(admin, name)
    specs = every_version_spec(load_spec())
    starlette = Starlette(
        routes=[
            Route("/healthz", healthz_for(loop), methods=["GET"]),
            Route("/openapi.json", _spec_json(specs["v1.0"]), methods=["GET"]),
            Route(f"{PERSONALIZER}/openapi.json", _query_spec(specs, "json"), methods=["GET"]),
            Route(f"{PERSONALIZER}/openapi.yaml", _query_spec(specs, "yaml"), methods=["GET"]),
            *[
                Route(f"{v.base}/openapi.{kind}", _serve_spec(specs[v.name], kind), methods=["GET"])
                for v in VERSIONS.values()
                if v.in_path
                for kind in ("json", "yaml")
            ],
            *dashboard,
        ],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        lifespan=lifespan,
    )
    # Behind the router: the key guards whatever is not /personalizer (the dashboard signs in itself).
    starlette.add_middleware(KeyMiddleware, key=key)
    return PersonalizerRouter(
        starlette,
        key,
        handlers,
        EventOperations(loop, max_json_bytes, versioned_error_payload),
        versioned_error_payload,
        is_open_path,
    )


def is_open_path(path: str) -> bool:
    """The paths served without a key: /healthz and the OpenAPI descriptions."""
    return path in OPEN_PATHS


def healthz_for(loop: Any) -> Callable[[Request], Awaitable[Response]]:
    """GET /healthz: 200 while the loop can write and train, else 503 naming what fails (docs/service.md)."""
    health = getattr(loop, "health", None)
    problems = getattr(health, "problems", None)

    async def healthz(request: Request) -> Response:
        found = problems() if callable(problems) else {}
        if isinstance(found, dict) and found:
            return JSONResponse({"status": "failing", "problems": found}, status_code=503)
        return JSONResponse({"status": "ok"})

    return healthz


def _without_match(method: Callable[[Request], Awaitable[Response]]) -> Handler:
    async def handle(request: Request, found: Match) -> Response:
        return await method(request)

    return handle


def _serve_spec(spec: dict[str, Any], kind: str) -> Callable[[Request], Awaitable[Response]]:
    return _spec_json(spec) if kind == "json" else _spec_yaml(spec)


def _spec_json(spec: dict[str, Any]) -> Callable[[Request], Awaitable[Response]]:
    async def serve(request: Request) -> Response:
        return JSONResponse(spec)

    return serve


def _spec_yaml(spec: dict[str, Any]) -> Callable[[Request], Awaitable[Response]]:
    text = yaml.safe_dump(spec, sort_keys=False)

    async def serve(request: Request) -> Response:
        return Response(text, media_type="application/yaml")

    return serve


def _query_spec(specs: dict[str, dict[str, Any]], kind: str) -> Callable[[Request], Awaitable[Response]]:
    """/personalizer/openapi.json?api-version=2022-09-01-preview (the version named in the query)."""
    texts = {name: yaml.safe_dump(spec, sort_keys=False) for name, spec in specs.items()}

    async def serve(request: Request) -> Response:
        name = request.query_params.get("api-version", QUERY_VERSION)
        if name not in specs or VERSIONS[name].in_path:
            body = error_body("UnsupportedApiVersionValue", f"Unsupported api-version; use {QUERY_VERSION}.")
            return JSONResponse(body, status_code=400)
        if kind == "json":
            return JSONResponse(specs[name])
        return Response(texts[name], media_type="application/yaml")

    return serve

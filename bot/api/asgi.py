"""The service's ASGI app: the hot path (hot_path.py) in front, Starlette for the other operations (routes.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from bot.api.dashboard.pages import build_dashboard
from bot.api.errors import EXCEPTION_HANDLERS
from bot.api.evaluation_routes import EvaluationRoutes
from bot.api.hot_path import EventRoutes
from bot.api.inbound import MAX_JSON_BYTES, PREFIX, KeyMiddleware
from bot.api.routes import Routes

OPENAPI_FILE = Path(__file__).with_name("openapi.yaml")
Handler = Callable[..., Awaitable[Response]]


def build_app(
    loop: Any,
    key: str,
    *,
    max_json_bytes: int = MAX_JSON_BYTES,
    lifespan: Any = None,
    evaluations: Any = None,
) -> ASGIApp:
    """The ASGI app: Personalizer's routes under /personalizer/v1.0 over `loop`, guarded by `key`.

    With `evaluations` (the loop's Evaluations), the evaluation operations and the dashboard too.
    """
    if not key:
        raise ValueError("PERSONALIZER_KEY is required: the service never runs without a key")
    events = EventRoutes(loop, key, max_json_bytes)
    r = Routes(loop, max_json_bytes)
    evaluation = EvaluationRoutes(loop, max_json_bytes, evaluations)
    dashboard = [] if evaluations is None else [build_dashboard(loop, evaluations, key)]
    spec = yaml.safe_load(OPENAPI_FILE.read_text())
    app = Starlette(
        routes=[
            Route("/healthz", healthz_for(loop), methods=["GET"]),
            Route("/openapi.json", _spec_json(spec), methods=["GET"]),
            Route(f"{PREFIX}/openapi.json", _spec_json(spec), methods=["GET"]),
            Route(f"{PREFIX}/openapi.yaml", _spec_yaml(spec), methods=["GET"]),
            # Served by EventRoutes before Starlette sees them; listed so other methods get a 405.
            Route(f"{PREFIX}/rank", events, methods=["POST"]),
            Route(f"{PREFIX}/events/{{eventId:path}}/reward", events, methods=["POST"]),
            Route(f"{PREFIX}/events/{{eventId:path}}/activate", events, methods=["POST"]),
            *r.routes(PREFIX),
            *evaluation.routes([PREFIX]),
            *dashboard,
        ],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        lifespan=lifespan,
    )
    app.add_middleware(KeyMiddleware, key=key)
    return events.in_front_of(app)


def healthz_for(loop: Any) -> Handler:
    """GET /healthz: 200 while the loop can write and train, else 503 naming what fails (docs/service.md)."""
    health = getattr(loop, "health", None)
    problems = getattr(health, "problems", None)

    async def healthz(request: Request) -> Response:
        found = problems() if callable(problems) else {}
        if isinstance(found, dict) and found:
            return JSONResponse({"status": "failing", "problems": found}, status_code=503)
        return JSONResponse({"status": "ok"})

    return healthz


def _spec_json(spec: dict[str, Any]) -> Handler:
    async def serve(request: Request) -> Response:
        return JSONResponse(spec)

    return serve


def _spec_yaml(spec: dict[str, Any]) -> Handler:
    text = yaml.safe_dump(spec, sort_keys=False)

    async def serve(request: Request) -> Response:
        return Response(text, media_type="application/yaml")

    return serve

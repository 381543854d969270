"""Personalizer v1.0 REST routes over the learning loop: HTTP concerns only (auth, bodies, status codes)."""

from __future__ import annotations

import functools
import hmac
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.personalizer import wire
from bot.personalizer.base import EventNotFound, InvalidRequest, RankerUnavailable

logger = logging.getLogger(__name__)

PREFIX = "/personalizer/v1.0"
OPENAPI_FILE = Path(__file__).with_name("openapi.yaml")
MAX_JSON_BYTES = 1024 * 1024
MAX_MODEL_BYTES = 64 * 1024 * 1024
Handler = Callable[..., Awaitable[Response]]


class TooLarge(Exception):
    """The body is over the limit for its route."""


def build_app(
    loop: Any, key: str, *, max_json_bytes: int = MAX_JSON_BYTES, lifespan: Any = None
) -> Starlette:
    """The ASGI app: Personalizer's routes under /personalizer/v1.0 over `loop`, guarded by `key`."""
    if not key:
        raise ValueError("PERSONALIZER_KEY is required: the service never runs without a key")
    routes = Routes(loop, max_json_bytes)
    spec = yaml.safe_load(OPENAPI_FILE.read_text())
    r = routes
    app = Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/openapi.json", _spec_json(spec), methods=["GET"]),
            Route(f"{PREFIX}/openapi.json", _spec_json(spec), methods=["GET"]),
            Route(f"{PREFIX}/openapi.yaml", _spec_yaml(spec), methods=["GET"]),
            Route(f"{PREFIX}/rank", r.rank, methods=["POST"]),
            Route(f"{PREFIX}/events/{{eventId:path}}/reward", r.reward, methods=["POST"]),
            Route(f"{PREFIX}/events/{{eventId:path}}/activate", r.activate, methods=["POST"]),
            Route(f"{PREFIX}/configurations/service", r.get_service, methods=["GET"]),
            Route(f"{PREFIX}/configurations/service", r.put_service, methods=["PUT"]),
            Route(f"{PREFIX}/configurations/policy", r.get_policy, methods=["GET"]),
            Route(f"{PREFIX}/configurations/policy", r.put_policy, methods=["PUT"]),
            Route(f"{PREFIX}/configurations/policy", r.delete_policy, methods=["DELETE"]),
            Route(f"{PREFIX}/model", r.get_model, methods=["GET"]),
            Route(f"{PREFIX}/model", r.put_model, methods=["PUT"]),
            Route(f"{PREFIX}/model", r.delete_model, methods=["DELETE"]),
            Route(f"{PREFIX}/model/properties", r.get_model_properties, methods=["GET"]),
            Route(f"{PREFIX}/logs/properties", r.get_log_properties, methods=["GET"]),
            Route(f"{PREFIX}/logs", r.delete_logs, methods=["DELETE"]),
        ],
        exception_handlers={HTTPException: _http_exception, Exception: _unexpected},
        lifespan=lifespan,
    )
    app.add_middleware(KeyMiddleware, key=key)
    return app


class KeyMiddleware:
    """401 unless Ocp-Apim-Subscription-Key matches (constant time); only /healthz and the spec are open."""

    def __init__(self, app: ASGIApp, key: str) -> None:
        self.app = app
        self.key = key.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not _is_open(scope["path"]):
            given = b""
            for name, value in scope["headers"]:
                if name == b"ocp-apim-subscription-key":
                    given = value
                    break
            if not hmac.compare_digest(given, self.key):
                response = error(401, "401", "Access denied due to a missing or invalid subscription key.")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _is_open(path: str) -> bool:
    return path == "/healthz" or path.endswith(("/openapi.json", "/openapi.yaml"))


def error(status: int, code: str, message: str, target: str | None = None) -> JSONResponse:
    """A Personalizer-shaped error response."""
    return JSONResponse(wire.error_body(code, message, target), status_code=status)


def mapped(handler: Handler) -> Handler:
    """Turn the loop's and the wire layer's exceptions into Personalizer's status codes and bodies."""

    @functools.wraps(handler)
    async def wrapper(*args: Any) -> Response:  # (self, request) on Routes' methods
        try:
            return await handler(*args)
        except InvalidRequest as exc:
            return error(400, exc.code or "BadRequest", exc.message, exc.target)
        except EventNotFound as exc:
            return error(404, "ResourceNotFound", str(exc), "eventId")
        except TooLarge as exc:
            return error(413, "PayloadSizeExceeded", str(exc))
        except RankerUnavailable as exc:
            logger.error("learning loop unavailable: %s", exc)
            return error(503, "ServiceUnavailable", "The learning loop is unavailable; try again.")
        except ClientDisconnect:
            return Response(status_code=400)

    return wrapper


class Routes:
    """One method per Personalizer operation; each reads the wire format and calls the loop."""

    def __init__(self, loop: Any, max_json_bytes: int) -> None:
        self.loop = loop
        self.max_json_bytes = max_json_bytes

    async def json_body(self, request: Request) -> Any:
        return wire.parse_json(await read_body(request, self.max_json_bytes))

    @mapped
    async def rank(self, request: Request) -> Response:
        rank_request = wire.rank_request_from_json(await self.json_body(request))
        result = await self.loop.rank_async(rank_request)
        return JSONResponse(wire.rank_result_to_json(result), status_code=201)

    @mapped
    async def reward(self, request: Request) -> Response:
        event_id = wire.event_id_from_path(request.path_params["eventId"])
        value = wire.reward_value_from_json(await self.json_body(request))
        await self.loop.reward_async(event_id, value)
        return Response(status_code=204)

    @mapped
    async def activate(self, request: Request) -> Response:
        event_id = wire.event_id_from_path(request.path_params["eventId"])
        await read_body(request, self.max_json_bytes)  # no body expected; drain whatever came
        await self.loop.activate_async(event_id)
        return Response(status_code=204)

    @mapped
    async def get_service(self, request: Request) -> Response:
        return JSONResponse(wire.settings_to_json(self.loop.settings))

    @mapped
    async def put_service(self, request: Request) -> Response:
        settings = wire.settings_from_json(await self.json_body(request), self.loop.settings)
        await run_in_threadpool(_bad_request_on_value_error(self.loop.update_settings), settings)
        return JSONResponse(wire.settings_to_json(self.loop.settings))

    @mapped
    async def get_policy(self, request: Request) -> Response:
        return JSONResponse(wire.policy_to_json(self.loop.settings.policy))

    @mapped
    async def put_policy(self, request: Request) -> Response:
        arguments = wire.policy_arguments_from_json(await self.json_body(request))
        await run_in_threadpool(_bad_request_on_value_error(self.loop.set_policy, "arguments"), arguments)
        return JSONResponse(wire.policy_to_json(self.loop.settings.policy))

    @mapped
    async def delete_policy(self, request: Request) -> Response:
        await run_in_threadpool(self.loop.reset_policy)
        return JSONResponse(wire.policy_to_json(self.loop.settings.policy))

    @mapped
    async def get_model(self, request: Request) -> Response:
        data = await run_in_threadpool(self.loop.export_model)
        return Response(data, media_type="application/octet-stream")

    @mapped
    async def put_model(self, request: Request) -> Response:
        data = await read_body(request, MAX_MODEL_BYTES)
        if not data:
            raise InvalidRequest("The body must be a model file (application/octet-stream).")
        await run_in_threadpool(_bad_request_on_value_error(self.loop.import_model), data)
        return Response(status_code=204)

    @mapped
    async def delete_model(self, request: Request) -> Response:
        await run_in_threadpool(self.loop.reset_model)
        return Response(status_code=204)

    @mapped
    async def get_model_properties(self, request: Request) -> Response:
        properties = await run_in_threadpool(self.loop.model_properties)
        return JSONResponse(wire.model_properties_to_json(properties))

    @mapped
    async def get_log_properties(self, request: Request) -> Response:
        properties = await run_in_threadpool(self.loop.log_properties)
        return JSONResponse(wire.log_properties_to_json(properties, datetime.now(UTC)))

    @mapped
    async def delete_logs(self, request: Request) -> Response:
        await run_in_threadpool(self.loop.delete_logs)
        return Response(status_code=204)


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refusing more than `limit` bytes before reading them when the length is declared."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise InvalidRequest("Content-Length must be a number of bytes.")
        if int(declared) > limit:
            raise TooLarge(f"The request body is larger than the {limit} bytes allowed.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"The request body is larger than the {limit} bytes allowed.")
        chunks.append(chunk)
    return b"".join(chunks)


def _bad_request_on_value_error(method: Callable[..., Any], target: str | None = None) -> Callable[..., Any]:
    def call(*args: Any) -> Any:
        try:
            return method(*args)
        except InvalidRequest:
            raise
        except ValueError as exc:
            raise InvalidRequest(str(exc), target=target) from None

    return call


async def healthz(request: Request) -> Response:
    """Liveness for load balancers and Procfile-style platforms."""
    return JSONResponse({"status": "ok"})


def _spec_json(spec: dict[str, Any]) -> Handler:
    async def serve(request: Request) -> Response:
        return JSONResponse(spec)

    return serve


def _spec_yaml(spec: dict[str, Any]) -> Handler:
    text = yaml.safe_dump(spec, sort_keys=False)

    async def serve(request: Request) -> Response:
        return Response(text, media_type="application/yaml")

    return serve


async def _http_exception(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 500)
    if status == 404:
        return error(404, "ResourceNotFound", f"No resource at {request.url.path}.")
    if status == 405:
        return error(405, "MethodNotAllowed", f"{request.method} is not allowed on {request.url.path}.")
    return error(status, "BadRequest", str(getattr(exc, "detail", "Bad request")))


async def _unexpected(request: Request, exc: Exception) -> Response:
    logger.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error(500, "InternalServerError", "An unexpected error occurred.")

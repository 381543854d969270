"""Personalizer v1.0 REST routes over the learning loop: HTTP concerns only (auth, bodies, status codes)."""

from __future__ import annotations

import functools
import hmac
import json
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
_ENCODER = json.JSONEncoder(separators=(",", ":"))  # one encoder: json.dumps with options builds one per call


class TooLarge(Exception):
    """The body is over the limit for its route."""


def build_app(loop: Any, key: str, *, max_json_bytes: int = MAX_JSON_BYTES, lifespan: Any = None) -> ASGIApp:
    """The ASGI app: Personalizer's routes under /personalizer/v1.0 over `loop`, guarded by `key`."""
    if not key:
        raise ValueError("PERSONALIZER_KEY is required: the service never runs without a key")
    events = EventRoutes(loop, key, max_json_bytes)
    r = Routes(loop, max_json_bytes)
    spec = yaml.safe_load(OPENAPI_FILE.read_text())
    app = Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/openapi.json", _spec_json(spec), methods=["GET"]),
            Route(f"{PREFIX}/openapi.json", _spec_json(spec), methods=["GET"]),
            Route(f"{PREFIX}/openapi.yaml", _spec_yaml(spec), methods=["GET"]),
            # Served by EventRoutes before Starlette sees them; listed so other methods get a 405.
            Route(f"{PREFIX}/rank", events, methods=["POST"]),
            Route(f"{PREFIX}/events/{{eventId:path}}/reward", events, methods=["POST"]),
            Route(f"{PREFIX}/events/{{eventId:path}}/activate", events, methods=["POST"]),
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
    return events.in_front_of(app)


class EventRoutes:
    """Rank, reward and activate: the hot path, as plain ASGI (no Request/Response objects, no middleware).

    At thousands of requests per second Starlette's per-request machinery costs as much as the ranking
    itself; these three operations are the traffic, so they bypass it. Everything else goes through Starlette.
    """

    RANK = f"{PREFIX}/rank"
    EVENTS = f"{PREFIX}/events/"

    def __init__(self, loop: Any, key: str, max_json_bytes: int) -> None:
        self.loop = loop
        self.key = key.encode()
        self.max_json_bytes = max_json_bytes

    def in_front_of(self, app: ASGIApp) -> ASGIApp:
        """An ASGI app that serves the event operations here and passes everything else to `app`."""

        async def front(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and scope["method"] == "POST" and scope["path"].startswith(PREFIX):
                path = scope["path"]
                if path == self.RANK or (
                    path.startswith(self.EVENTS) and path.endswith(("/reward", "/activate"))
                ):
                    await self(scope, receive, send)
                    return
            await app(scope, receive, send)

        return front

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        payload: dict[str, Any] | None
        if not authorized(scope, self.key):
            status, payload = 401, UNAUTHORIZED
        else:
            try:
                status, payload = await self._dispatch(scope, receive)
            except ClientDisconnect:
                return
            except Exception as exc:  # noqa: BLE001 - the HTTP boundary: every failure gets an answer
                status, payload = error_payload(exc)
        body = b"" if payload is None else _ENCODER.encode(payload).encode()
        headers = [(b"content-length", str(len(body)).encode())]
        if payload is not None:
            headers.append((b"content-type", b"application/json"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _dispatch(self, scope: Scope, receive: Receive) -> tuple[int, dict[str, Any] | None]:
        path = scope["path"]
        body = await read_asgi_body(scope, receive, self.max_json_bytes)
        if path == self.RANK:
            request = wire.rank_request_from_json(wire.parse_json(body))
            return 201, wire.rank_result_to_json(await self.loop.rank_async(request))
        if path.endswith("/reward"):
            event_id = wire.event_id_from_path(path[len(self.EVENTS) : -len("/reward")])
            await self.loop.reward_async(event_id, wire.reward_value_from_json(wire.parse_json(body)))
            return 204, None
        event_id = wire.event_id_from_path(path[len(self.EVENTS) : -len("/activate")])
        await self.loop.activate_async(event_id)
        return 204, None


def authorized(scope: Scope, key: bytes) -> bool:
    """Ocp-Apim-Subscription-Key equals the key (compared in constant time)."""
    given = b""
    for name, value in scope["headers"]:
        if name == b"ocp-apim-subscription-key":
            given = value
            break
    return hmac.compare_digest(given, key)


UNAUTHORIZED = wire.error_body("401", "Access denied due to a missing or invalid subscription key.")


def error_payload(exc: Exception) -> tuple[int, dict[str, Any]]:
    """Personalizer's status code and error body for an exception of the wire layer or the loop."""
    if isinstance(exc, InvalidRequest):
        return 400, wire.error_body(exc.code or "BadRequest", exc.message, exc.target)
    if isinstance(exc, EventNotFound):
        return 404, wire.error_body("ResourceNotFound", str(exc), "eventId")
    if isinstance(exc, TooLarge):
        return 413, wire.error_body("PayloadSizeExceeded", str(exc))
    if isinstance(exc, RankerUnavailable):
        logger.error("learning loop unavailable: %s", exc)
        return 503, wire.error_body("ServiceUnavailable", "The learning loop is unavailable; try again.")
    logger.exception("unexpected error", exc_info=exc)
    return 500, wire.error_body("InternalServerError", "An unexpected error occurred.")


async def read_asgi_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The whole body from ASGI messages; TooLarge past `limit` (before reading, when the length is declared)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            if not value.isdigit():
                raise InvalidRequest("Content-Length must be a number of bytes.")
            if int(value) > limit:
                raise TooLarge(f"The request body is larger than the {limit} bytes allowed.")
            break
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"The request body is larger than the {limit} bytes allowed.")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


class KeyMiddleware:
    """401 unless Ocp-Apim-Subscription-Key matches (constant time); only /healthz and the spec are open."""

    def __init__(self, app: ASGIApp, key: str) -> None:
        self.app = app
        self.key = key.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not _is_open(scope["path"]) and not authorized(scope, self.key):
            await JSONResponse(UNAUTHORIZED, status_code=401)(scope, receive, send)
            return
        await self.app(scope, receive, send)


OPEN_PATHS = frozenset({"/healthz", "/openapi.json", f"{PREFIX}/openapi.json", f"{PREFIX}/openapi.yaml"})


def _is_open(path: str) -> bool:
    return path in OPEN_PATHS


def error(status: int, code: str, message: str, target: str | None = None) -> JSONResponse:
    """A Personalizer-shaped error response."""
    return JSONResponse(wire.error_body(code, message, target), status_code=status)


def mapped(handler: Handler) -> Handler:
    """Turn the loop's and the wire layer's exceptions into Personalizer's status codes and bodies."""

    @functools.wraps(handler)
    async def wrapper(*args: Any) -> Response:  # (self, request) on Routes' methods
        try:
            return await handler(*args)
        except ClientDisconnect:
            return Response(status_code=400)
        except (InvalidRequest, EventNotFound, TooLarge, RankerUnavailable) as exc:
            status, payload = error_payload(exc)
            return JSONResponse(payload, status_code=status)

    return wrapper


class Routes:
    """One method per Personalizer operation; each reads the wire format and calls the loop."""

    def __init__(self, loop: Any, max_json_bytes: int) -> None:
        self.loop = loop
        self.max_json_bytes = max_json_bytes

    async def json_body(self, request: Request) -> Any:
        return wire.parse_json(await read_body(request, self.max_json_bytes))

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

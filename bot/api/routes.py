"""The service's operations besides rank and reward: configuration, policy, model and logs, through Starlette.

Each reads the wire format and calls the loop's admin operations, in Starlette's thread pool where they block.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.api import wire
from bot.api.errors import SlowBody, TooLarge, error_response
from bot.api.inbound import MAX_MODEL_BYTES, read_body
from bot.personalizer.base import EventNotFound, InvalidRequest, RankerUnavailable

Handler = Callable[..., Awaitable[Response]]


def mapped(handler: Handler) -> Handler:
    """Answer the loop's and the wire layer's exceptions with Personalizer's status codes and bodies."""

    @functools.wraps(handler)
    async def wrapper(*args: Any) -> Response:  # (self, request) on Routes' methods
        try:
            return await handler(*args)
        except ClientDisconnect:
            return Response(status_code=400)
        except (InvalidRequest, EventNotFound, TooLarge, SlowBody, RankerUnavailable) as exc:
            return error_response(exc)

    return wrapper


class Routes:
    """One method per Personalizer operation; each reads the wire format and calls the loop."""

    def __init__(self, loop: Any, max_json_bytes: int) -> None:
        self.loop = loop
        self.admin = loop.admin
        self.max_json_bytes = max_json_bytes

    def routes(self, prefix: str) -> list[Route]:
        """Starlette routes for every operation under `prefix`."""
        return [
            Route(f"{prefix}/configurations/service", self.get_service, methods=["GET"]),
            Route(f"{prefix}/configurations/service", self.put_service, methods=["PUT"]),
            Route(f"{prefix}/configurations/policy", self.get_policy, methods=["GET"]),
            Route(f"{prefix}/configurations/policy", self.put_policy, methods=["PUT"]),
            Route(f"{prefix}/configurations/policy", self.delete_policy, methods=["DELETE"]),
            Route(f"{prefix}/model", self.get_model, methods=["GET"]),
            Route(f"{prefix}/model", self.put_model, methods=["PUT"]),
            Route(f"{prefix}/model", self.delete_model, methods=["DELETE"]),
            Route(f"{prefix}/model/properties", self.get_model_properties, methods=["GET"]),
            Route(f"{prefix}/logs/properties", self.get_log_properties, methods=["GET"]),
            Route(f"{prefix}/logs", self.delete_logs, methods=["DELETE"]),
        ]

    async def json_body(self, request: Request) -> Any:
        """The request's JSON body, within the size limit."""
        return wire.parse_json(await read_body(request.scope, request.receive, self.max_json_bytes))

    @mapped
    async def get_service(self, request: Request) -> Response:
        return JSONResponse(wire.settings_to_json(self.loop.settings))

    @mapped
    async def put_service(self, request: Request) -> Response:
        settings = wire.settings_from_json(await self.json_body(request), self.loop.settings)
        await run_in_threadpool(self.admin.update_settings, settings)
        return JSONResponse(wire.settings_to_json(self.loop.settings))

    @mapped
    async def get_policy(self, request: Request) -> Response:
        return JSONResponse(wire.policy_to_json(self.loop.settings.policy))

    @mapped
    async def put_policy(self, request: Request) -> Response:
        arguments = wire.policy_arguments_from_json(await self.json_body(request))
        await run_in_threadpool(self.admin.set_policy, arguments)
        return JSONResponse(wire.policy_to_json(self.loop.settings.policy))

    @mapped
    async def delete_policy(self, request: Request) -> Response:
        await run_in_threadpool(self.admin.reset_policy)
        return JSONResponse(wire.policy_to_json(self.loop.settings.policy))

    @mapped
    async def get_model(self, request: Request) -> Response:
        data = await run_in_threadpool(self.admin.export_model)
        return Response(data, media_type="application/octet-stream")

    @mapped
    async def put_model(self, request: Request) -> Response:
        data = await read_body(request.scope, request.receive, MAX_MODEL_BYTES)
        if not data:
            raise InvalidRequest("The body must be a model file (application/octet-stream).")
        await run_in_threadpool(self.admin.import_model, data)
        return Response(status_code=204)

    @mapped
    async def delete_model(self, request: Request) -> Response:
        await run_in_threadpool(self.admin.reset_model)
        return Response(status_code=204)

    @mapped
    async def get_model_properties(self, request: Request) -> Response:
        properties = await run_in_threadpool(self.admin.model_properties)
        return JSONResponse(wire.model_properties_to_json(properties))

    @mapped
    async def get_log_properties(self, request: Request) -> Response:
        properties = await run_in_threadpool(self.admin.log_properties)
        return JSONResponse(wire.log_properties_to_json(properties, datetime.now(UTC)))

    @mapped
    async def delete_logs(self, request: Request) -> Response:
        await run_in_threadpool(self.admin.delete_logs)
        return Response(status_code=204)

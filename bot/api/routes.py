"""Configuration, policy, model and log operations of every API version (not the hot path).

Each handler gets the request and the Match (its API version and path parameter): v1.0 imports raw models,
later versions only signed archives.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.api import signed_model, wire, wire_config, wire_logs
from bot.api.inbound import read_body
from bot.api.versions import Match
from bot.personalizer.base import InvalidRequest
from bot.personalizer.local import DEFAULT_POLICIES

MAX_LOG_BYTES = 16 * 1024 * 1024


class AdminOperations:
    """One method per operation, named as in versions.py; each reads the wire format and calls the loop."""

    def __init__(self, loop: Any, key: str, max_json_bytes: int) -> None:
        self.loop = loop
        self.admin = loop.admin
        self.key = key.encode()
        self.max_json_bytes = max_json_bytes

    async def _json(self, request: Request) -> Any:
        return wire.parse_json(await read_body(request.scope, request.receive, self.max_json_bytes))

    async def get_service(self, request: Request, found: Match) -> Response:
        return JSONResponse(wire_config.settings_to_json(self.loop.settings))

    async def put_service(self, request: Request, found: Match) -> Response:
        changes = wire_config.settings_changes_from_json(await self._json(request))
        await run_in_threadpool(_checked(self._apply_settings), changes)
        return JSONResponse(wire_config.settings_to_json(self.loop.settings))

    def _apply_settings(self, changes: dict[str, Any]) -> None:
        self.admin.update_settings(self.loop.settings.with_changes(**changes))

    async def get_policy(self, request: Request, found: Match) -> Response:
        return JSONResponse(wire_config.policy_to_json(self.loop.settings, self._policy_name()))

    async def put_policy(self, request: Request, found: Match) -> Response:
        name, arguments = wire_config.policy_from_json(await self._json(request))
        await run_in_threadpool(_checked(self._set_policy, "arguments"), name, arguments)
        return JSONResponse(wire_config.policy_to_json(self.loop.settings, self._policy_name()))

    def _set_policy(self, name: str, arguments: str) -> None:
        # VW gets the arguments without input-format flags; GET answers them as the client wrote them.
        self.admin.set_policy(wire_config.policy_arguments_for_vw(arguments), name, arguments)

    async def delete_policy(self, request: Request, found: Match) -> Response:
        await run_in_threadpool(self.admin.reset_policy)
        return JSONResponse(wire_config.policy_to_json(self.loop.settings, self._policy_name()))

    def _policy_name(self) -> str:
        """The name of a policy set without one: "default" for what DELETE /configurations/policy restores."""
        # That is the project's policy or Azure's, as PERSONALIZER_DEFAULT_POLICY says.
        settings = self.loop.settings
        return "default" if settings.policy == DEFAULT_POLICIES[settings.default_policy] else "custom"

    async def get_model(self, request: Request, found: Match) -> Response:
        data = await run_in_threadpool(self.admin.export_model)
        if request.query_params.get("signed", "false").lower() == "true":
            archive = signed_model.sign(data, self.key)
            return Response(
                archive, media_type="application/octet-stream", headers=_attachment("model.vw.zip")
            )
        return Response(data, media_type="application/octet-stream", headers=_attachment("model.vw"))

    async def put_model(self, request: Request, found: Match) -> Response:
        data = await read_body(request.scope, request.receive, signed_model.MAX_MODEL_BYTES)
        if not data:
            raise InvalidRequest("The body must be a model file (application/octet-stream).")
        if signed_model.is_archive(data):
            data = signed_model.verified_model(data, self.key)
        elif found.version.name != "v1.0":  # from v1.1-preview.3 on, Azure imports only signed models
            raise InvalidRequest(
                "Given model file is not signed or does not have a valid signature: "
                "import the archive GET /model?signed=true exports.",
                code="InvalidModelImportSignature",
            )
        await run_in_threadpool(_checked(self.admin.import_model), data)
        return Response(status_code=204)

    async def delete_model(self, request: Request, found: Match) -> Response:
        await run_in_threadpool(self.admin.reset_model)
        return Response(status_code=204)

    async def get_model_properties(self, request: Request, found: Match) -> Response:
        properties = await run_in_threadpool(self.admin.model_properties)
        return JSONResponse(wire.model_properties_to_json(properties))

    async def get_log_properties(self, request: Request, found: Match) -> Response:
        properties = await run_in_threadpool(self.admin.log_properties)
        if properties.get("start_date") is None:
            return JSONResponse({})  # Azure's answer for an empty log (its SDK recordings)
        return JSONResponse(wire.log_properties_to_json(properties, datetime.now(UTC)))

    async def delete_logs(self, request: Request, found: Match) -> Response:
        await run_in_threadpool(self.admin.delete_logs)
        return Response(status_code=204)

    async def post_interactions(self, request: Request, found: Match) -> Response:
        interactions = wire_logs.interactions_from_body(
            await read_body(request.scope, request.receive, MAX_LOG_BYTES)
        )
        await self.loop.import_interactions_async(interactions)
        return Response(status_code=204)

    async def post_observations(self, request: Request, found: Match) -> Response:
        observations = wire_logs.observations_from_body(
            await read_body(request.scope, request.receive, MAX_LOG_BYTES)
        )
        await self.loop.import_observations_async(observations)
        return Response(status_code=204)


def _attachment(name: str) -> dict[str, str]:
    return {"content-disposition": f"attachment; filename={name}"}


def _checked(method: Any, target: str | None = None) -> Any:
    """Run a loop method, turning its ValueError (a refused value) into a 400 naming the field."""

    def call(*args: Any) -> Any:
        try:
            return method(*args)
        except InvalidRequest:
            raise
        except ValueError as exc:
            message = str(exc)
            raise InvalidRequest(message, target=target or message.split(" ", 1)[0]) from None

    return call

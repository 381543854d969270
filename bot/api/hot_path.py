"""Rank, reward and activate, single- and multi-slot, of every API version: the traffic, as plain ASGI.

At thousands of requests per second Starlette's per-request machinery (Request/Response objects,
middleware) costs as much as the ranking itself, so these operations bypass it and await the loop's
*_async methods: concurrent requests share one group commit.

Azure's answers, from Microsoft's SDK recordings: a reward or an activation for an event that was never
ranked is 204 (nothing is stored: no event can ever join it); a rank without contextFeatures is 201.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send

from bot.api import wire, wire_multislot
from bot.api.inbound import read_body, send_json
from bot.api.versions import Match
from bot.personalizer.base import EventNotFound
from bot.personalizer.local import check_storable

logger = logging.getLogger(__name__)
ErrorMapper = Callable[[Exception, Match | None], tuple[int, dict[str, Any]]]


class EventOperations:
    """The hot operations over the loop's *_async methods; one instance serves every version."""

    def __init__(self, loop: Any, max_json_bytes: int, errors: ErrorMapper) -> None:
        self.loop = loop
        self.max_json_bytes = max_json_bytes
        self.errors = errors

    async def __call__(self, scope: Scope, receive: Receive, send: Send, found: Match) -> None:
        try:
            status, payload = await self._dispatch(scope, receive, found)
        except ClientDisconnect:
            return
        except Exception as exc:  # noqa: BLE001 - the HTTP boundary: every failure gets an answer
            status, payload = self.errors(exc, found)
        await send_json(send, status, payload)

    async def _dispatch(
        self, scope: Scope, receive: Receive, found: Match
    ) -> tuple[int, dict[str, Any] | None]:
        assert found.operation is not None
        name = found.operation.name
        body = await read_body(scope, receive, self.max_json_bytes)
        if name == "rank":
            request = wire.rank_request_from_json(wire.parse_json(body))
            return 201, wire.rank_result_to_json(await self.loop.rank_async(request))
        if name == "multislot_rank":
            slots = wire_multislot.multislot_request_from_json(
                wire.parse_json(body), wire.rank_request_from_json
            )
            return 201, wire_multislot.multislot_result_to_json(await self.loop.rank_multislot_async(slots))
        event_id = wire.event_id_from_path(found.parameter or "")
        # An ID no database can hold was never ranked; say so (400) rather than answer as for an unknown one.
        check_storable(event_id, "eventId")
        try:
            if name == "reward":
                await self.loop.reward_async(event_id, wire.reward_value_from_json(wire.parse_json(body)))
            elif name == "multislot_reward":
                rewards = wire_multislot.slot_rewards_from_json(wire.parse_json(body))
                await self.loop.reward_multislot_async(event_id, rewards)
            else:  # activate, multislot_activate
                await self.loop.activate_async(event_id)
        except EventNotFound:
            # Azure's answer (its SDK recordings): 204. Nothing is kept, since no event can join it.
            logger.debug("%s for an event never ranked; answered 204, nothing kept", name)
        return 204, None

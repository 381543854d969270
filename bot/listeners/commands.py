"""The /whatsfordinner slash command: menus, the text shortcut, or usage."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from blocks.menus import build_menus
from blocks.messages import MENUS_TEXT, RANKER_DOWN, build_usage
from bot.listeners.conversation import parse_shortcut, rank_suggestion, suggestion_message, user_time_of_day
from bot.menu import TASTES, TIMES_OF_DAY

if TYPE_CHECKING:  # listeners use the services they are handed, never build them
    from bot.services import Services

logger = logging.getLogger(__name__)


def handle_whatsfordinner(services: Services, command: dict[str, Any], respond: Any, client: Any) -> None:
    """Answer (after the ack) with the menus, a suggestion (text shortcut) or the usage.

    `command` is the request body, which for a slash command is the command itself.
    """
    shortcut = parse_shortcut(command.get("text") or "")
    if shortcut.wants_help or shortcut.unknown:
        respond(text=build_usage(TASTES, TIMES_OF_DAY, shortcut.unknown), response_type="ephemeral")
        return
    user_id = command["user_id"]
    if shortcut.taste and shortcut.time_of_day:
        try:
            ranked = rank_suggestion(
                services,
                requester=user_id,
                channel=command.get("channel_id"),
                taste=shortcut.taste,
                time_of_day=shortcut.time_of_day,
            )
        except Exception:
            logger.exception("rank failed for a slash command")
            respond(text=RANKER_DOWN, response_type="ephemeral")
            return
        if ranked is not None:
            respond(response_type="ephemeral", **suggestion_message(services, *ranked))
        return
    time_of_day = shortcut.time_of_day or user_time_of_day(client, user_id)
    respond(
        text=MENUS_TEXT,
        blocks=build_menus(TASTES, TIMES_OF_DAY, shortcut.taste, time_of_day),
        response_type="ephemeral",
    )

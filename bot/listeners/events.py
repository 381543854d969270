"""Events: App Home."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from blocks.messages import build_home
from bot.menu import TASTES, TIMES_OF_DAY

if TYPE_CHECKING:  # listeners use the services they are handed, never build them
    from bot.services import Services

logger = logging.getLogger(__name__)


def handle_app_home_opened(services: Services, body: dict[str, Any], respond: Any, client: Any) -> None:
    """Publish the short Home tab when a user opens it."""
    event = body["event"]
    if event.get("tab", "home") != "home":
        return
    client.views_publish(user_id=event["user"], view=build_home(TASTES, TIMES_OF_DAY))

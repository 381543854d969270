"""Events: App Home."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from bot.listeners.home import publish_home

if TYPE_CHECKING:  # listeners use the services they are handed, never build them
    from bot.services import Services

logger = logging.getLogger(__name__)


def handle_app_home_opened(services: Services, body: dict[str, Any], respond: Any, client: Any) -> None:
    """Publish the person's Home tab when they open it (not the Messages tab)."""
    event = body["event"]
    if event.get("tab", "home") != "home":
        return
    publish_home(services, client, event["user"])

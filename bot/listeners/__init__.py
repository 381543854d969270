"""Slack listeners; register_listeners wires every command, click and event to its handler."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import App

from blocks import ids
from bot.listeners.actions import handle_menu_choice, handle_suggest, handle_try_another, handle_vote
from bot.listeners.commands import handle_whatsfordinner
from bot.listeners.events import handle_app_home_opened
from bot.services import Services

COMMAND = "/whatsfordinner"


def register_listeners(app: App, services: Services) -> None:
    """Register every listener on `app`, each handed the services it needs."""

    @app.command(COMMAND)
    def whatsfordinner(ack: Any, command: dict[str, Any], respond: Any, client: Any) -> None:
        handle_whatsfordinner(services, ack, command, respond, client)

    app.action(re.compile(f"^({ids.TASTE_SELECT}|{ids.TIME_SELECT})$"))(handle_menu_choice)

    @app.action(ids.SUGGEST)
    def suggest(ack: Any, body: dict[str, Any], respond: Any, client: Any) -> None:
        handle_suggest(services, ack, body, respond, client)

    @app.action(ids.VOTE_UP)
    def vote_up(ack: Any, body: dict[str, Any], respond: Any) -> None:
        handle_vote(services, ack, body, respond, 1.0)

    @app.action(ids.VOTE_DOWN)
    def vote_down(ack: Any, body: dict[str, Any], respond: Any) -> None:
        handle_vote(services, ack, body, respond, 0.0)

    @app.action(ids.TRY_ANOTHER)
    def try_another(ack: Any, body: dict[str, Any], respond: Any) -> None:
        handle_try_another(services, ack, body, respond)

    app.event("app_home_opened")(handle_app_home_opened)

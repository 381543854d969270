"""Slack listeners; register_listeners wires every command, click and event to its handler.

Every listener acks inline and hands the work to a thread pool: the HTTP answer goes back the moment the
ack is recorded. (Bolt's default path runs the whole listener in a thread and polls every 10 ms for its
ack(), a 10 ms floor on every answer; its lazy listeners deep-copy each request before answering. With
the App built with process_before_response=True, this does neither.)
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from slack_bolt import App

from blocks import ids
from blocks.messages import SOMETHING_WENT_WRONG
from bot.listeners.actions import handle_suggest, handle_try_another, handle_vote
from bot.listeners.commands import handle_whatsfordinner
from bot.listeners.events import handle_app_home_opened
from bot.services import Services

logger = logging.getLogger(__name__)
COMMAND = "/whatsfordinner"
MENU_ACTIONS = re.compile(f"^({ids.TASTE_SELECT}|{ids.TIME_SELECT})$")
Work = Callable[[dict[str, Any], Any, Any], None]  # (body, respond, client)


def acknowledge(ack: Any) -> None:
    """A request that needs nothing but its ack (a menu choice: Suggest reads the menus' state)."""
    ack()


def register_listeners(app: App, services: Services, executor: Executor) -> None:
    """Register every listener on `app` (built with process_before_response=True); work runs on `executor`."""

    def ack_then(work: Work) -> Callable[..., None]:
        def listener(ack: Any, body: dict[str, Any], respond: Any, client: Any) -> None:
            ack()
            executor.submit(_run, work, body, respond, client)

        listener.__name__ = getattr(work, "__name__", "listener")
        return listener

    app.command(COMMAND)(
        ack_then(lambda body, respond, client: handle_whatsfordinner(services, body, respond, client))
    )
    app.action(MENU_ACTIONS)(acknowledge)
    app.action(ids.SUGGEST)(
        ack_then(lambda body, respond, client: handle_suggest(services, body, respond, client))
    )
    app.action(ids.VOTE_UP)(ack_then(lambda body, respond, _: handle_vote(services, body, respond, 1.0)))
    app.action(ids.VOTE_DOWN)(ack_then(lambda body, respond, _: handle_vote(services, body, respond, 0.0)))
    app.action(ids.TRY_ANOTHER)(
        ack_then(lambda body, respond, _: handle_try_another(services, body, respond))
    )
    app.event("app_home_opened")(
        ack_then(lambda body, _, client: handle_app_home_opened(body["event"], client))
    )


def _run(work: Work, body: dict[str, Any], respond: Any, client: Any) -> None:
    """Run a listener's work after its ack; a failure is logged and apologised for, never raised."""
    try:
        work(body, respond, client)
    except Exception:
        logger.exception("listener failed after its ack")
        if respond is not None:  # events have no response_url
            try:
                respond(text=SOMETHING_WENT_WRONG, response_type="ephemeral", replace_original=False)
            except Exception:
                logger.warning("could not tell the user either", exc_info=True)

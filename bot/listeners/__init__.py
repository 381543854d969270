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
from typing import TYPE_CHECKING, Any

from slack_bolt import App

from blocks import ids
from blocks.messages import SOMETHING_WENT_WRONG, STORAGE_DOWN
from bot.listeners.actions import handle_suggest, handle_thumbs_down, handle_thumbs_up, handle_try_another
from bot.listeners.commands import handle_whatsfordinner
from bot.listeners.events import handle_app_home_opened
from bot.listeners.home import handle_home_suggest
from bot.suggestions import StorageUnavailable

if TYPE_CHECKING:  # listeners use the services they are handed, never build them
    from bot.outbound import Replies
    from bot.services import Services

logger = logging.getLogger(__name__)
COMMAND = "/whatsfordinner"
# Every handler: (services, request body, respond, client), run after the request was acked.
Handler = Callable[["Services", dict[str, Any], Any, Any], None]
# Every action_id the app emits and what a click on it runs; a menu choice needs nothing but its ack
# (Suggest reads the menus' state).
ACTIONS: dict[str, Handler | None] = {
    ids.SUGGEST: handle_suggest,
    ids.VOTE_UP: handle_thumbs_up,
    ids.VOTE_DOWN: handle_thumbs_down,
    ids.TRY_ANOTHER: handle_try_another,
    ids.HOME_SUGGEST: handle_home_suggest,
    ids.TASTE_SELECT: None,
    ids.TIME_SELECT: None,
}
ACTION_IDS = re.compile("^(" + "|".join(re.escape(a) for a in ACTIONS) + ")$")


def register_listeners(
    app: App, services: Services, executor: Executor, replies: Replies | None = None, slack_client: Any = None
) -> None:
    """Register every listener on `app` (built with process_before_response=True); work runs on `executor`.

    With `replies`, respond() posts on its own pool; with `slack_client`, listeners call Slack
    through it rather than through Bolt's client (see bot.outbound). Three listeners, one per kind of
    request: Bolt tries each listener's matchers in turn, building every argument a listener could
    take for each try, so a listener per action_id made a Home tab event cost eight tries.
    """

    def submit(handler: Handler, body: dict[str, Any], respond: Any, client: Any) -> None:
        if replies is not None:
            respond = replies.respond_to(getattr(respond, "response_url", None))
        executor.submit(_run, handler, services, body, respond, slack_client or client)

    def ack_then(handler: Handler) -> Callable[..., None]:
        def listener(ack: Any, body: dict[str, Any], respond: Any, client: Any) -> None:
            ack()
            submit(handler, body, respond, client)

        return listener

    def on_action(ack: Any, body: dict[str, Any], respond: Any, client: Any) -> None:
        ack()
        handler = ACTIONS.get(_action_id(body) or "")
        if handler is not None:
            submit(handler, body, respond, client)

    app.command(COMMAND)(ack_then(handle_whatsfordinner))
    app.action(ACTION_IDS)(on_action)  # only these ids: Bolt answers 404 to any other, as Slack expects
    app.event("app_home_opened")(ack_then(handle_app_home_opened))


def _action_id(body: dict[str, Any]) -> str | None:
    """The clicked element's action_id (Bolt matched it already; Slack sends one action per click)."""
    actions = body.get("actions")
    first = actions[0] if isinstance(actions, list) and actions else None
    return first.get("action_id") if isinstance(first, dict) else None


def _run(handler: Handler, services: Services, body: dict[str, Any], respond: Any, client: Any) -> None:
    """Run a listener's work after its ack; a failure is logged and apologised for, never raised."""
    try:
        handler(services, body, respond, client)
    except StorageUnavailable as exc:  # the database is read-only or full: the user can only wait
        logger.error("the suggestion store failed: %s", getattr(exc.__cause__, "orig", exc.__cause__))
        _apologise(respond, STORAGE_DOWN)
    except Exception:
        logger.exception("listener failed after its ack")
        _apologise(respond, SOMETHING_WENT_WRONG)


def _apologise(respond: Any, text: str) -> None:
    if respond is not None:  # events have no response_url
        try:
            respond(text=text, response_type="ephemeral", replace_original=False)
        except Exception:
            logger.warning("could not tell the user either", exc_info=True)

"""POST /slack/events before Bolt: the body is bounded while it streams, signed, and shaped like Slack's.

A refused request costs one HMAC and nothing more: no parsing, no listener, and no byte of it in the log
(Bolt logs the whole body of a request it refuses; here it never sees one). Bolt checks the signature again.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_sdk.signature import SignatureVerifier
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response

logger = logging.getLogger(__name__)
MAX_BODY_BYTES = 1_000_000  # Slack's payloads are a few kB
BODY_SECONDS = 10.0  # a body that trickles in slower than this holds a connection for nothing
BODIES_BYTES = 32_000_000  # all bodies being read at once; Slack's bodies of a few kB never come close
TIMESTAMP = re.compile(r"[0-9]{1,12}")  # seconds since the epoch, as Slack sends them (ASCII digits only)
SUMMARY_SECONDS = 60.0  # at most one log line per minute about refusals, whatever their number
# Keys Bolt reads on every request, and the types Slack sends them as: anything else is not from Slack.
OBJECT_KEYS = (
    "event",
    "view",
    "function",
    "message",
    "previous_message",
    "item",
    "container",
    "state",
    "function_data",
)
NEVER_NULL_KEYS = ("event", "view", "function")  # Bolt reads these as body.get(key, {}).get(...)
OBJECT_OR_TEXT_KEYS = ("user", "channel", "team", "enterprise")
TEXT_KEYS = ("type", "command", "text", "response_url", "callback_id", "trigger_id", "user_id", "team_id")
LIST_OF_OBJECT_KEYS = ("actions", "authorizations", "response_urls")

Endpoint = Callable[[Request], Awaitable[Response]]


class BodyTooLarge(Exception):
    """The body passed MAX_BODY_BYTES."""


class BodiesOverBudget(Exception):
    """The bodies being read at once passed their budget."""


class BodyBudget:
    """Bytes of request bodies held at once, across requests (used on the event loop only, so no lock)."""

    def __init__(self, limit: int = BODIES_BYTES) -> None:
        self.limit = limit
        self.held = 0

    def take(self, size: int) -> bool:
        """Reserve `size` bytes; False (nothing reserved) when that would pass the limit."""
        if self.held + size > self.limit:
            return False
        self.held += size
        return True

    def give(self, size: int) -> None:
        """Release bytes reserved with take()."""
        self.held -= size


class RefusalLog:
    """Counts refused requests and logs one summary line a minute at most: reasons and counts, no content."""

    def __init__(self, every: float = SUMMARY_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.every = every
        self._clock = clock
        self._counts: Counter[str] = Counter()
        self._last = float("-inf")
        self._lock = threading.Lock()

    def refused(self, reason: str) -> None:
        """Count one refusal; log the counts since the last line if a minute has passed."""
        with self._lock:
            self._counts[reason] += 1
            now = self._clock()
            if now - self._last < self.every:
                return
            counts, self._counts, self._last = dict(self._counts), Counter(), now
        logger.warning(
            "refused requests to /slack/events: %s", ", ".join(f"{r} ×{n}" for r, n in counts.items())
        )


async def read_body(request: Request, limit: int = MAX_BODY_BYTES, budget: BodyBudget | None = None) -> bytes:
    """The whole body, refused as soon as it passes `limit` (BodyTooLarge), chunked or not, or as soon as
    the bodies being read at once pass `budget` (BodiesOverBudget)."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise BodyTooLarge
    parts: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            if size + len(chunk) > limit:
                raise BodyTooLarge
            if budget is not None and not budget.take(len(chunk)):
                raise BodiesOverBudget
            size += len(chunk)
            parts.append(chunk)
    finally:
        if budget is not None:
            budget.give(size)
    return b"".join(parts)


def signed_by_slack(verifier: SignatureVerifier, headers: Any, body: bytes) -> bool:
    """True when the body carries Slack's signature, made within 5 minutes, with our signing secret."""
    timestamp = headers.get("x-slack-request-timestamp")
    signature = headers.get("x-slack-signature")
    if not timestamp or not signature or not TIMESTAMP.fullmatch(timestamp):
        return False
    try:
        return verifier.is_valid(body, timestamp, signature)
    except UnicodeDecodeError:  # Slack signs UTF-8 only
        return False


def envelope_problem(body: Any) -> str | None:
    """Why a parsed body cannot be a Slack request (a field Bolt reads has a type Slack never sends), or None."""
    if not isinstance(body, dict):
        return "not an object"
    for key in OBJECT_KEYS:
        if (
            key in body
            and not isinstance(body[key], dict)
            and (body[key] is not None or key in NEVER_NULL_KEYS)
        ):
            return f"{key} is not an object"
    for key in OBJECT_OR_TEXT_KEYS:
        if body.get(key) is not None and not isinstance(body[key], dict | str):
            return f"{key} is neither an object nor text"
    for key in TEXT_KEYS:
        if body.get(key) is not None and not isinstance(body[key], str):
            return f"{key} is not text"
    for key in LIST_OF_OBJECT_KEYS:
        value = body.get(key)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, dict) for v in value)):
            return f"{key} is not a list of objects"
    if body.get("type") in ("block_actions", "interactive_message") and "actions" in body:
        # Bolt reads actions[0]["action_id"] to match a listener; Slack sends one action at least, with its ID.
        if not body["actions"] or not all(isinstance(a.get("action_id"), str) for a in body["actions"]):
            return "an action without an action_id"
        if not isinstance(body.get("user"), dict) or not isinstance(body["user"].get("id"), str):
            return "an action without a user ID"  # Slack names who clicked; the listeners answer them
    if "command" in body and not (body.get("response_url") and body.get("user_id")):
        return "a command without a response_url or a user_id"  # Slack sends both: whom to answer, where
    nested = [body["event"]] if isinstance(body.get("event"), dict) else []
    nested += body.get("authorizations") or []  # Bolt reads the first one as it reads the body
    for inner in nested:
        if problem := envelope_problem(
            {k: v for k, v in inner.items() if k not in ("event", "authorizations")}
        ):
            return problem
    return None


def build_slack_endpoint(bolt_app: App, signing_secret: str) -> Endpoint:
    """The Starlette endpoint for POST /slack/events: bound, verify and shape-check, then Bolt (in a thread)."""
    verifier = SignatureVerifier(signing_secret)
    refusals = RefusalLog()
    budget = BodyBudget()

    async def slack_events(request: Request) -> Response:
        try:
            async with asyncio.timeout(BODY_SECONDS):
                body = await read_body(request, budget=budget)
        except BodiesOverBudget:
            refusals.refused("too many bodies at once")
            close = {"Connection": "close", "Retry-After": "1"}
            return PlainTextResponse("Too many requests in flight", status_code=429, headers=close)
        except BodyTooLarge:
            refusals.refused("too large")
            return PlainTextResponse("Payload too large", status_code=413, headers={"Connection": "close"})
        except TimeoutError:
            refusals.refused("body too slow")
            return PlainTextResponse("Request timeout", status_code=408, headers={"Connection": "close"})
        except ClientDisconnect:
            return PlainTextResponse("", status_code=400)
        if not signed_by_slack(verifier, request.headers, body):
            refusals.refused("not signed by Slack")
            return PlainTextResponse("Invalid request", status_code=401)
        try:
            bolt_request = to_bolt_request(request, body)  # parses the body: payload=<json>, JSON or form
            problem = envelope_problem(bolt_request.body)
        except Exception as exc:  # Bolt's parser on signed but untrusted text: any failure means malformed
            problem = type(exc).__name__
        if problem is not None:
            logger.warning("refused a signed request to /slack/events that is not Slack's: %s", problem)
            return PlainTextResponse("Malformed request", status_code=400)
        bolt_response = await run_in_threadpool(bolt_app.dispatch, bolt_request)
        return to_starlette_response(bolt_response)

    return slack_events

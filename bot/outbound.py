"""Calls from the bot to Slack, each with a deadline, on capacity that one slow endpoint cannot exhaust.

- Every deadline is for the whole call, wall clock, from the connection to the answer's last byte
  (bot/outbound_deadline.py): an endpoint that drips its answer a byte at a time costs its deadline, no more.
- Web API calls (users.info, chat.*, views.publish) end within API_TIMEOUT, users.info within
  USERS_INFO_TIMEOUT (it only preselects a menu), and none is retried: a chat.postMessage that timed out may
  still have been posted, and a retry would post it twice.
- Replies to response_urls leave the listener thread at once: they are posted on a pool of their own
  (REPLY_THREADS), each within REPLY_TIMEOUT and never retried, in order for one response_url. A hanging
  response_url holds one reply thread for REPLY_TIMEOUT at most, never the threads that rank for other users,
  and it takes REPLY_THREADS hanging at the same moment before another user's reply waits at all.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from bot.outbound_deadline import DeadlineWebClient, DeadlineWebhookClient

logger = logging.getLogger(__name__)
API_TIMEOUT = 2  # seconds for any Web API call
USERS_INFO_TIMEOUT = 1  # the user's time zone is a nicety: the menus go out without it
REPLY_TIMEOUT = 2  # seconds for one post to a response_url
REPLY_THREADS = 64  # replies in flight; each waits on a socket, costing a thread's stack and no CPU
MAX_QUEUED_REPLIES = 2_000  # beyond this, replies are dropped (and logged) rather than kept in memory


def build_web_client(
    token: str | None, base_url: str | None = None, timeout: int = API_TIMEOUT
) -> DeadlineWebClient:
    """A WebClient whose calls give up `timeout` seconds after they start, and are never retried."""
    args: dict[str, Any] = {"token": token, "timeout": timeout, "retry_handlers": []}
    if base_url:
        args["base_url"] = base_url
    return DeadlineWebClient(**args)


def wait_for(futures: list[Future[Any]], wait: float) -> None:
    """Wait up to `wait` s in all for `futures` to end; their outcome does not matter here."""
    deadline = time.monotonic() + wait
    for future in futures:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        try:
            future.result(timeout=left)
        except Exception:  # the work logs its own failures; only the waiting matters
            pass


class ListenerClient(DeadlineWebClient):
    """The WebClient listeners are handed: API_TIMEOUT per call, users.info within USERS_INFO_TIMEOUT."""

    def __init__(self, token: str | None, base_url: str | None = None) -> None:
        args: dict[str, Any] = {"base_url": base_url} if base_url else {}
        super().__init__(token=token, timeout=API_TIMEOUT, retry_handlers=[], **args)
        self._lookups = build_web_client(token, base_url, USERS_INFO_TIMEOUT)

    def users_info(self, **kwargs: Any) -> Any:  # type: ignore[override]
        """users.info with its own, shorter deadline."""
        return self._lookups.users_info(**kwargs)


class Replies:
    """Posts replies to response_urls on a bounded pool of their own; see the module's docstring."""

    def __init__(self, threads: int = REPLY_THREADS, timeout: int = REPLY_TIMEOUT) -> None:
        self.timeout = timeout
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="reply")
        self._pending: set[Future[None]] = set()
        self._lock = threading.Lock()

    def respond_to(self, response_url: str | None) -> Callable[..., None] | None:
        """A respond(text=..., blocks=..., replace_original=...) posting in call order; None without a URL."""
        if not response_url:
            return None
        previous: list[Future[None] | None] = [None]

        def respond(**message: Any) -> None:
            previous[0] = self._submit(response_url, message, previous[0])

        return respond

    def pending(self) -> int:
        """Replies queued or being posted."""
        with self._lock:
            return len(self._pending)

    def close(self, wait: float) -> int:
        """Post what is in flight for up to `wait` seconds; the number of replies abandoned after that."""
        with self._lock:
            pending = list(self._pending)
        self._pool.shutdown(wait=False)
        wait_for(pending, wait)
        never_started = sum(1 for f in pending if f.cancel())
        return never_started + sum(1 for f in pending if not f.done())

    def _submit(self, url: str, message: dict[str, Any], after: Future[None] | None) -> Future[None] | None:
        with self._lock:
            if len(self._pending) >= MAX_QUEUED_REPLIES:
                logger.warning("dropped a reply: %d replies already waiting for Slack", len(self._pending))
                return after
            future = self._pool.submit(self._post, url, message, after)
            self._pending.add(future)
        future.add_done_callback(self._done)
        return future

    def _done(self, future: Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)

    def _post(self, url: str, message: dict[str, Any], after: Future[None] | None) -> None:
        if after is not None:
            # Submitted earlier, so already taken by a thread of this pool: the wait cannot deadlock.
            try:
                after.result(timeout=self.timeout * 2)
            except Exception:
                pass
        started = time.monotonic()
        try:
            response = DeadlineWebhookClient(url=url, timeout=self.timeout, retry_handlers=[]).send(**message)
        except Exception as exc:  # a timeout, a refused connection: the reply is lost, never sent twice
            logger.warning(
                "a reply to a response_url failed after %.1f s: %s",
                time.monotonic() - started,
                type(exc).__name__,
            )
            return
        if response.status_code != 200:
            logger.warning("Slack refused a reply to a response_url: HTTP %d", response.status_code)

"""The thread pool listeners' work runs on, which can stop within a deadline and count what it abandoned."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from bot.outbound import Replies, wait_for

logger = logging.getLogger(__name__)
STOP_WAIT = 3.0  # seconds after the server stopped: with uvicorn's 3 s and a 2 s reply timeout, under 10 s


class ListenerPool(ThreadPoolExecutor):
    """A ThreadPoolExecutor whose stop(wait) returns within `wait` seconds, whatever its work is stuck on."""

    def __init__(self, max_workers: int, thread_name_prefix: str = "listener") -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix=thread_name_prefix)
        self._in_flight: set[Future[Any]] = set()
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        """Run fn(*args, **kwargs) on the pool, tracked until it ends."""
        future = super().submit(fn, *args, **kwargs)
        with self._lock:
            self._in_flight.add(future)
        future.add_done_callback(self._forget)
        return future

    def in_flight(self) -> int:
        """Jobs queued or running."""
        with self._lock:
            return len(self._in_flight)

    def stop(self, wait: float) -> tuple[int, int]:
        """Refuse new work, let what is queued or running end for up to `wait` s: (abandoned, never started)."""
        with self._lock:
            in_flight = list(self._in_flight)
        self.shutdown(wait=False)
        wait_for(in_flight, wait)
        never_started = sum(1 for f in in_flight if f.cancel())  # cancel() succeeds only on queued work
        running = sum(1 for f in in_flight if not f.done())
        return running, never_started

    def _forget(self, future: Future[Any]) -> None:
        with self._lock:
            self._in_flight.discard(future)


def stop_listeners(pool: ListenerPool, replies: Replies, wait: float = STOP_WAIT) -> None:
    """Let acked work and its replies finish within `wait` s in all; log what was in flight and abandoned."""
    started = time.monotonic()
    jobs, replies_in_flight = pool.in_flight(), replies.pending()
    running, never_started = pool.stop(wait * 0.6)
    unsent = replies.close(max(0.1, wait - (time.monotonic() - started)))
    if jobs or replies_in_flight:
        logger.warning(
            "stopping with %d listener jobs and %d replies in flight; abandoned %d jobs (%d never started) "
            "and %d replies",
            jobs,
            replies_in_flight,
            running + never_started,
            never_started,
            unsent,
        )

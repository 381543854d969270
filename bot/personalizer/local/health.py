"""What the process can do right now, for `/healthz`: its background threads and its last writes.

Healthy means: the writer, trainer and checkpoint threads are running, the last write to the event log was
committed, and the last training round finished. A thread that raises is restarted after a pause (and
counted); a failure is reported until the component next succeeds, so `/healthz` turns 503 while the disk is
full or the database is read-only, and 200 again by itself once writes go through.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)
RESTART_PAUSE = 1.0


class Health:
    """Components report failures and recoveries; `problems()` says what is wrong now. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: dict[str, str] = {}
        self._threads: dict[str, Callable[[], bool]] = {}
        self.restarts: dict[str, int] = {}

    def watch(self, name: str, alive: Callable[[], bool]) -> None:
        """Report `name` as down whenever `alive()` is false."""
        with self._lock:
            self._threads[name] = alive

    def failed(self, name: str, message: str) -> None:
        """`name` cannot do its work: reported until `recovered(name)`."""
        with self._lock:
            new = name not in self._failures
            self._failures[name] = message
        if new:
            logger.error("%s is failing: %s", name, message)

    def recovered(self, name: str) -> None:
        """`name` did its work again."""
        if name in self._failures:  # unlocked read: the common case costs a dict lookup
            with self._lock:
                gone = self._failures.pop(name, None)
            if gone is not None:
                logger.warning("%s recovered", name)

    def failing(self, name: str) -> bool:
        """True while `name` is reported failing."""
        return name in self._failures

    def problems(self) -> dict[str, str]:
        """Each failing component with what is wrong; empty when the process can write and train."""
        with self._lock:
            found = dict(self._failures)
            threads = dict(self._threads)
        for name, alive in threads.items():
            if not alive():
                found[name] = "the thread is not running"
        return found


class Supervised:
    """A background thread whose target runs until `stop` is set; if it raises or returns early it is
    started again after RESTART_PAUSE, and Health reports it failing meanwhile."""

    def __init__(self, name: str, target: Callable[[], None], health: Health, stop: threading.Event) -> None:
        self.name = name
        self._target = target
        self._health = health
        self._stop = stop
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        health.watch(name, self.alive)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def alive(self) -> bool:
        """True while the thread runs (or has stopped because it was asked to)."""
        return self._thread.is_alive() or self._stop.is_set()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the thread to end (after `stop` is set)."""
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._target()
            except BaseException as exc:  # a supervisor outlives whatever its target raised; `stop` ends it
                logger.exception("the %s thread failed; restarting it", self.name)
                self._health.failed(self.name, f"restarting after {type(exc).__name__}")
            else:
                if self._stop.is_set():
                    return
                self._health.failed(self.name, "its loop ended; restarting it")
            self._health.restarts[self.name] = self._health.restarts.get(self.name, 0) + 1
            if self._stop.wait(RESTART_PAUSE):
                return
            self._health.recovered(self.name)

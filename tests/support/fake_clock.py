"""An injected clock for the learning loop's tests: they move time, nothing sleeps."""

from __future__ import annotations


class Clock:
    """Time as the test sets it: `now` is read by calling the clock, moved by `advance` or by assignment."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

"""The rank deadline: a Ranker whose rank() gives up in time, whatever the backend is stuck on."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from bot.personalizer.base import Ranker, RankerUnavailable, RankRequest, RankResult

RANK_THREADS = 16


class RankDeadline:
    """A Ranker whose rank() gives up after `timeout` seconds, whatever the backend is stuck on.

    Rank only: a reward that timed out might still land, and retrying it could send it twice, so rewards
    rely on the backend's own timeouts (the Azure client's, the learning loop's write timeout).
    """

    def __init__(self, backend: Ranker, timeout: float) -> None:
        self.backend = backend
        self.timeout = timeout
        self._pool = ThreadPoolExecutor(max_workers=RANK_THREADS, thread_name_prefix="rank")

    def rank(self, request: RankRequest) -> RankResult:
        """The backend's rank, or RankerUnavailable once the deadline passes."""
        future = self._pool.submit(self.backend.rank, request)
        try:
            return future.result(timeout=self.timeout)
        except FutureTimeout:
            raise RankerUnavailable(f"rank did not answer within {self.timeout:g} s") from None

    def rank_each(self, requests: list[RankRequest]) -> list[RankResult]:
        """The backend's rank of each request, in turn on one rank thread, all within one deadline.

        One hand-off for them all: a thread switch and its wake-up cost more than a local rank.
        """
        future = self._pool.submit(lambda: [self.backend.rank(request) for request in requests])
        try:
            return future.result(timeout=self.timeout)
        except FutureTimeout:
            raise RankerUnavailable(
                f"{len(requests)} ranks did not answer within {self.timeout:g} s"
            ) from None

    def reward(self, event_id: str, value: float) -> None:
        """The backend's reward."""
        self.backend.reward(event_id, value)

    def activate(self, event_id: str) -> None:
        """The backend's activate."""
        self.backend.activate(event_id)

    def close(self) -> None:
        """Stop the rank threads (a stuck one is left to finish on its own)."""
        self._pool.shutdown(wait=False, cancel_futures=True)

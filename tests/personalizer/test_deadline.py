"""The rank deadline: several ranks handed to one rank thread at once, answered in order, or given up on in time."""

from __future__ import annotations

import threading

import pytest

from bot.personalizer.base import (
    RankableAction,
    RankedAction,
    RankerUnavailable,
    RankRequest,
    RankResult,
    rank_each,
)
from bot.personalizer.deadline import RankDeadline


class Recording:
    """A backend that answers each rank with its first action, noting the thread it ran on."""

    def __init__(self, hold: threading.Event | None = None) -> None:
        self.threads: list[int] = []
        self.hold = hold

    def rank(self, request: RankRequest) -> RankResult:
        if self.hold is not None:
            self.hold.wait(10)
        self.threads.append(threading.get_ident())
        first = request.actions[0].id
        return RankResult(str(request.event_id), first, [RankedAction(first, 1.0)])

    def reward(self, event_id: str, value: float) -> None:
        pass

    def activate(self, event_id: str) -> None:
        pass


def _requests(count: int) -> list[RankRequest]:
    return [RankRequest([{"n": i}], [RankableAction(f"dish{i}")], event_id=f"e{i}") for i in range(count)]


def test_ranks_handed_over_together_run_in_turn_on_one_thread_and_answer_in_order() -> None:
    backend = Recording()
    deadline = RankDeadline(backend, timeout=10)
    try:
        results = rank_each(deadline, _requests(8))
    finally:
        deadline.close()
    assert [r.event_id for r in results] == [f"e{i}" for i in range(8)]
    assert [r.reward_action_id for r in results] == [f"dish{i}" for i in range(8)]
    assert len(set(backend.threads)) == 1 and backend.threads[0] != threading.get_ident()


def test_a_ranker_without_rank_each_is_asked_once_per_request() -> None:
    backend = Recording()
    results = rank_each(backend, _requests(3))
    assert [r.reward_action_id for r in results] == ["dish0", "dish1", "dish2"]
    assert backend.threads == [threading.get_ident()] * 3


def test_ranks_that_do_not_answer_within_the_deadline_are_given_up_on() -> None:
    hold = threading.Event()
    deadline = RankDeadline(Recording(hold), timeout=0.05)
    try:
        with pytest.raises(RankerUnavailable, match="8 ranks did not answer"):
            rank_each(deadline, _requests(8))
    finally:
        hold.set()
        deadline.close()

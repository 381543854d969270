"""The learning loop's semantics with an injected clock: nothing here sleeps."""

from __future__ import annotations

import os
import sys
import threading
import time

import pytest

from bot.db import write_lock
from bot.personalizer.base import EventNotFound, InvalidRequest, RankRequest
from bot.personalizer.local import background as loop_module
from bot.personalizer.local import store
from bot.personalizer.local import trainer as trainer_module
from bot.personalizer.local.loop import open_learning_loop
from bot.personalizer.local.settings import LoopSettings
from bot.personalizer.local.trainer import training_lines
from tests.personalizer.local.conftest import SEED_ACTIONS, SEED_CONTEXT
from tests.test_db import wal_generation

WAIT = 600.0


def open_loop(database_url, clock, **changes):
    settings = LoopSettings(reward_wait_time=WAIT, model_export_frequency=1.0, **changes)
    return open_learning_loop(database_url, settings, clock=clock, run_trainer=False)


@pytest.fixture
def loop(database_url, clock):
    loop = open_loop(database_url, clock)
    yield loop
    loop.close()


def rank(loop, deferred=False):
    return loop.rank(RankRequest(SEED_CONTEXT, SEED_ACTIONS, ["juice"], defer_activation=deferred)).event_id


def event(loop, event_id):
    return store.get_event(loop._engine, event_id)


def test_earliest_reward_is_learned_at_once_before_the_window_closes(loop, clock):
    event_id = rank(loop)
    loop.reward(event_id, 1.0)
    clock.advance(1)
    assert loop.train_once() == 1
    row = event(loop, event_id)
    assert row["state"] == store.LEARNED and row["learned_value"] == 1.0


def test_earliest_keeps_the_first_reward_only(loop, clock):
    event_id = rank(loop)
    loop.reward(event_id, 0.25)
    loop.reward(event_id, 1.0)
    loop.train_once()
    assert event(loop, event_id)["learned_value"] == 0.25
    assert [value for value, _ in store.event_rewards(loop._engine, event_id)] == [0.25, 1.0]


def test_without_a_reward_the_event_waits_for_the_window_then_learns_the_default(database_url, clock):
    loop = open_loop(database_url, clock, default_reward=-0.5)
    try:
        event_id = rank(loop)
        clock.advance(WAIT - 1)
        assert loop.train_once() == 0
        assert event(loop, event_id)["state"] == store.PENDING
        clock.advance(2)
        assert loop.train_once() == 1
        assert event(loop, event_id)["learned_value"] == -0.5
    finally:
        loop.close()


def test_sum_adds_rewards_in_the_window_and_learns_when_it_closes(database_url, clock):
    loop = open_loop(database_url, clock, reward_aggregation="sum")
    try:
        event_id = rank(loop)
        loop.reward(event_id, 0.5)
        clock.advance(10)
        loop.reward(event_id, 0.25)
        assert loop.train_once() == 0  # the window is still open: more may come
        clock.advance(WAIT)
        loop.reward(event_id, 1.0)  # late: kept, not learned
        assert loop.train_once() == 1
        assert event(loop, event_id)["learned_value"] == pytest.approx(0.75)
        assert len(store.event_rewards(loop._engine, event_id)) == 3
    finally:
        loop.close()


def test_a_late_reward_is_kept_but_the_default_is_learned(loop, clock):
    event_id = rank(loop)
    clock.advance(WAIT + 1)
    loop.reward(event_id, 1.0)
    loop.train_once()
    assert event(loop, event_id)["learned_value"] == 0.0
    assert store.event_rewards(loop._engine, event_id) == [(1.0, clock.now)]


def test_deferred_event_never_activated_is_never_learned(loop, clock):
    event_id = rank(loop, deferred=True)
    loop.reward(event_id, 1.0)
    assert loop.train_once() == 0  # a reward alone does not settle a deferred event
    clock.advance(WAIT + 1)
    loop.train_once()
    row = event(loop, event_id)
    assert row["state"] == store.NEVER_LEARNED and row["learned_value"] is None


def test_deferred_event_activated_in_time_learns_its_reward(loop, clock):
    event_id = rank(loop, deferred=True)
    loop.reward(event_id, 1.0)
    clock.advance(30)
    loop.activate(event_id)
    assert loop.train_once() == 1
    assert event(loop, event_id)["learned_value"] == 1.0


def test_deferred_event_activated_without_reward_learns_the_default(loop, clock):
    event_id = rank(loop, deferred=True)
    loop.activate(event_id)
    clock.advance(WAIT + 1)
    loop.train_once()
    row = event(loop, event_id)
    assert row["state"] == store.LEARNED and row["learned_value"] == 0.0


def test_deferred_event_activated_too_late_is_never_learned(loop, clock):
    event_id = rank(loop, deferred=True)
    clock.advance(WAIT + 1)
    loop.activate(event_id)
    loop.train_once()
    assert event(loop, event_id)["state"] == store.NEVER_LEARNED


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 1.5, -2, True, "1.0", None])
def test_rewards_must_be_finite_numbers_in_range(loop, value):
    event_id = rank(loop)
    with pytest.raises(InvalidRequest):
        loop.reward(event_id, value)
    assert store.event_rewards(loop._engine, event_id) == []


def test_unknown_events_are_not_found(loop):
    with pytest.raises(EventNotFound):
        loop.reward("no-such-event", 1.0)
    with pytest.raises(EventNotFound):
        loop.activate("no-such-event")


def teach_salty_pasta(loop, clock, rounds=300):
    """Reward pasta (salty) and nothing else; return the last ranking's probability of pasta."""
    for n in range(rounds):
        result = loop.rank(RankRequest([{"taste_preference": "salty"}], SEED_ACTIONS, ["juice"]))
        loop.reward(result.event_id, 1.0 if result.reward_action_id == "pasta" else 0.0)
        clock.advance(0.1)
        if n % 10 == 9:
            loop.train_once()
    result = loop.rank(RankRequest([{"taste_preference": "salty"}], SEED_ACTIONS, ["juice"]))
    return {r.id: r.probability for r in result.ranking}["pasta"]


def test_online_mode_learns_a_preference(loop, clock):
    assert teach_salty_pasta(loop, clock) > 0.8


def test_apprentice_mode_returns_the_baseline_and_learns_to_imitate_it(database_url, clock):
    loop = open_loop(database_url, clock, learning_mode="Apprentice")
    try:
        for n in range(200):
            result = loop.rank(RankRequest(SEED_CONTEXT, SEED_ACTIONS, ["juice"]))
            assert result.reward_action_id == "pasta"  # the first action not excluded
            loop.reward(result.event_id, 0.0)  # even unliked, the baseline is what gets imitated
            clock.advance(0.1)
            if n % 10 == 9:
                loop.train_once()
        loop.admin.update_settings(loop.settings.with_changes(learning_mode="Online"))
        result = loop.rank(RankRequest(SEED_CONTEXT, SEED_ACTIONS, ["juice"]))
        assert {r.id: r.probability for r in result.ranking}["pasta"] > 0.8
    finally:
        loop.close()


def test_logging_only_returns_the_baseline_and_learns_nothing(database_url, clock):
    loop = open_loop(database_url, clock, learning_mode="LoggingOnly")
    try:
        for _ in range(20):
            result = loop.rank(RankRequest(SEED_CONTEXT, SEED_ACTIONS, ["pasta"]))
            assert result.reward_action_id == "ice cream"
            loop.reward(result.event_id, 1.0)
        assert loop.train_once() == 20
        assert store.latest_model(loop._engine).learned_events == 0
    finally:
        loop.close()


def test_each_event_is_learned_exactly_once_across_a_restart(database_url, clock):
    loop = open_loop(database_url, clock)
    learned_before = teach_salty_pasta(loop, clock, rounds=100)
    events_before = store.latest_model(loop._engine).learned_events
    loop.close()

    reopened = open_loop(database_url, clock)
    try:
        assert reopened.train_once() == 0
        assert store.latest_model(reopened._engine).learned_events == events_before == 100
        # Rank uses the last published model at once: not uniform.
        result = reopened.rank(RankRequest([{"taste_preference": "salty"}], SEED_ACTIONS, ["juice"]))
        assert {r.id: r.probability for r in result.ranking}["pasta"] == pytest.approx(learned_before)
    finally:
        reopened.close()


def test_a_crash_before_publication_loses_nothing_and_learns_nothing_twice(database_url, clock, monkeypatch):
    loop = open_loop(database_url, clock)
    for _ in range(30):
        event_id = rank(loop)
        loop.reward(event_id, 1.0)

    def crash(*args, **kwargs):
        raise RuntimeError("killed mid-training")

    with monkeypatch.context() as patch:
        patch.setattr(store, "commit_training", crash)
        with pytest.raises(RuntimeError):
            loop.train_once()
    assert store.count_events(loop._engine, store.PENDING) == 30
    loop.close()

    reopened = open_loop(database_url, clock)
    try:
        assert reopened.train_once() == 30
        assert reopened.train_once() == 0
        assert store.latest_model(reopened._engine).learned_events == 30
    finally:
        reopened.close()


def test_a_second_trainer_cannot_learn_what_the_first_published(database_url, clock):
    first, second = open_loop(database_url, clock), open_loop(database_url, clock)
    try:
        for _ in range(10):
            first.reward(rank(first), 1.0)
        assert first.train_once() == 10
        assert second.train_once() == 0  # the lead is held, and nothing is left anyway
        assert store.latest_model(first._engine).learned_events == 10
    finally:
        first.close()
        second.close()


def test_two_trainers_racing_from_one_model_publish_once(database_url, clock):
    first, second = open_loop(database_url, clock), open_loop(database_url, clock)
    try:
        for _ in range(10):
            first.reward(rank(first), 1.0)
        # Bypass the lead on purpose: the version key alone must stop the second publication.
        first._background._trainer._load(store.latest_model(first._engine), first.settings)
        second._background._trainer._load(store.latest_model(second._engine), second.settings)
        assert first._background._trainer.train_once() == 10
        assert second._background._trainer.train_once() == 0
        assert store.latest_model(first._engine).learned_events == 10
        assert store.count_events(first._engine, store.LEARNED) == 10
    finally:
        first.close()
        second.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_on_sqlite_training_takes_turns_with_the_services_writers(loop, clock):
    """The trainer's commit waits on the writers' file lock, as a rank or reward from any process does."""
    loop.reward(rank(loop), 1.0)
    holder = write_lock(loop._engine)
    trained: list[int] = []
    with holder():  # another process's writer, mid-commit
        thread = threading.Thread(target=lambda: trained.append(loop.train_once()))
        thread.start()
        thread.join(timeout=0.5)
        assert thread.is_alive() and not trained
        assert store.count_events(loop._engine, store.LEARNED) == 0
    thread.join(timeout=10)
    assert trained == [1] and store.count_events(loop._engine, store.LEARNED) == 1


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread nice values are Linux's")
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_low_priority_trainer_learns_niced_but_commits_at_the_services_priority(
    database_url, clock, monkeypatch
):
    """A commit holds the writers' lock: a trainer preempted in it would make every rank and reward wait."""
    seen: dict[str, int] = {}
    commit_training = store.commit_training

    def priority() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    def learning(row, value, *options):
        seen.setdefault("learn", priority())
        return training_lines(row, value, *options)

    def committing(*args, **kwargs):
        seen.setdefault("commit", priority())
        return commit_training(*args, **kwargs)

    monkeypatch.setattr(trainer_module, "training_lines", learning)
    monkeypatch.setattr(trainer_module.store, "commit_training", committing)
    base = priority()
    settings = LoopSettings(reward_wait_time=WAIT, model_export_frequency=1.0)
    loop = open_learning_loop(database_url, settings, clock=clock, training_nice=5)
    try:
        loop.reward(rank(loop), 1.0)
        deadline = time.monotonic() + 10
        while store.count_events(loop._engine, store.LEARNED) == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.count_events(loop._engine, store.LEARNED) == 1
    finally:
        loop.close()
    assert seen == {"learn": min(base + 5, 19), "commit": base}
    assert priority() == base  # the caller's own thread is untouched


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_on_sqlite_the_wal_starts_over_while_a_long_training_round_runs(database_url, clock, monkeypatch):
    """A trainer catching up learns for minutes; the WAL must not grow all that time."""
    monkeypatch.setattr(loop_module, "CHECKPOINT_INTERVAL", 0.05)
    loop = open_loop(database_url, clock)
    training, finish = threading.Event(), threading.Event()

    def long_round() -> int:
        training.set()
        finish.wait(30)
        return 0

    monkeypatch.setattr(loop._background._trainer, "train_once", long_round)
    loop.start()
    try:
        assert training.wait(10)
        rank(loop)
        generation = wal_generation(loop._engine.url.database)
        deadline = time.monotonic() + 10
        while wal_generation(loop._engine.url.database) == generation and time.monotonic() < deadline:
            rank(loop)
        assert wal_generation(loop._engine.url.database) > generation
        assert not finish.is_set()  # still in the round
    finally:
        finish.set()
        loop.close()

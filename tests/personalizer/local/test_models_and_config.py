"""Model export/import/reset, configuration that persists and applies at once, log retention and deletion."""

from __future__ import annotations

import pytest

from bot.personalizer.base import RankRequest
from bot.personalizer.local import store
from bot.personalizer.local.loop import open_learning_loop
from bot.personalizer.local.settings import DEFAULT_POLICY, LoopSettings
from tests.personalizer.local.conftest import SEED_ACTIONS
from tests.personalizer.local.test_learning_loop import teach_salty_pasta

SALTY = RankRequest([{"taste_preference": "salty"}], SEED_ACTIONS, ["juice"])


def pasta_probability(loop) -> float:
    return {r.id: r.probability for r in loop.rank(SALTY).ranking}["pasta"]


@pytest.fixture
def loop(database_url, clock):
    loop = open_learning_loop(database_url, LoopSettings(), clock=clock, run_trainer=False)
    yield loop
    loop.close()


def test_reset_forgets_and_import_restores_the_model(loop, clock):
    learned = teach_salty_pasta(loop, clock, rounds=150)
    exported = loop.admin.export_model()
    loop.admin.reset_model()
    assert pasta_probability(loop) == pytest.approx(1 / 3)
    loop.admin.import_model(exported)
    assert pasta_probability(loop) == pytest.approx(learned)


def test_garbage_is_not_imported(loop):
    with pytest.raises(ValueError, match="not a Vowpal Wabbit model"):
        loop.admin.import_model(b"definitely not a model")


def test_model_properties_track_creation_and_publication(loop, clock):
    created = loop.admin.model_properties()["creation_time"]
    clock.advance(100)
    teach_salty_pasta(loop, clock, rounds=20)
    properties = loop.admin.model_properties()
    assert properties["creation_time"] == created
    assert properties["last_modified_time"] > created


def test_settings_apply_at_once_and_survive_a_restart(database_url, clock):
    loop = open_learning_loop(database_url, LoopSettings(), clock=clock, run_trainer=False)
    loop.admin.update_settings(loop.settings.with_changes(reward_wait_time=60.0, learning_mode="Apprentice"))
    assert loop.rank(SALTY).reward_action_id == "pasta"  # Apprentice: the baseline, at once
    loop.close()
    # Reopened with nothing set explicitly in the environment: the stored configuration wins.
    reopened = open_learning_loop(database_url, LoopSettings(), clock=clock, run_trainer=False, explicit=())
    try:
        assert reopened.settings.reward_wait_time == 60.0
        assert reopened.settings.learning_mode == "Apprentice"
    finally:
        reopened.close()
    # A variable set explicitly wins over the stored value.
    explicit = open_learning_loop(
        database_url,
        LoopSettings(learning_mode="Online"),
        clock=clock,
        run_trainer=False,
        explicit=["learning_mode"],
    )
    try:
        assert (explicit.settings.learning_mode, explicit.settings.reward_wait_time) == ("Online", 60.0)
    finally:
        explicit.close()


def test_another_process_sees_a_configuration_change_on_refresh(database_url, clock):
    first = open_learning_loop(database_url, LoopSettings(), clock=clock, run_trainer=False)
    second = open_learning_loop(database_url, LoopSettings(), clock=clock, run_trainer=False, explicit=())
    try:
        first.admin.update_settings(first.settings.with_changes(default_reward=0.5))
        second.refresh()
        assert second.settings.default_reward == 0.5
    finally:
        first.close()
        second.close()


def test_a_new_policy_starts_a_fresh_model_and_reset_goes_back_to_the_default(loop, clock):
    teach_salty_pasta(loop, clock, rounds=100)
    loop.admin.set_policy("--cb_explore_adf --epsilon 0.2 -q CA")
    assert pasta_probability(loop) == pytest.approx(1 / 3)
    assert loop.settings.policy == "--cb_explore_adf --epsilon 0.2 -q CA"
    loop.admin.reset_policy()
    assert loop.settings.policy == DEFAULT_POLICY


@pytest.mark.parametrize(
    "policy",
    [
        "--cb_adf",
        "--cb_explore_adf --no_such_option",
        "--cb_explore_adf --epsilon 2",
        # Options that read or write files are never a policy: policies arrive over the REST API.
        "--cb_explore_adf -f /tmp/model",
        "--cb_explore_adf --predictions /tmp/out",
        "--cb_explore_adf --readable_model=/tmp/out",
        "--cb_explore_adf --invert_hash /tmp/out",
        "--cb_explore_adf -c",
        "--cb_explore_adf --dictionary_path /etc",
    ],
)
def test_bad_policies_are_refused(loop, policy):
    with pytest.raises(ValueError):
        loop.admin.set_policy(policy)
    assert loop.settings.policy == DEFAULT_POLICY


def test_exploration_percentage_sets_epsilon_for_epsilon_greedy_policies(loop, clock):
    loop.admin.set_policy("--cb_explore_adf --epsilon 0.2 -q CA")
    teach_salty_pasta(loop, clock, rounds=200)
    assert pasta_probability(loop) == pytest.approx(1 - 0.2 + 0.2 / 3, abs=1e-4)
    loop.admin.update_settings(loop.settings.with_changes(exploration_percentage=0.05))
    assert pasta_probability(loop) == pytest.approx(1 - 0.05 + 0.05 / 3, abs=1e-4)


def test_retention_removes_old_settled_events(database_url, clock):
    loop = open_learning_loop(
        database_url, LoopSettings(log_retention_days=1), clock=clock, run_trainer=False
    )
    try:
        old = loop.rank(SALTY).event_id
        loop.reward(old, 1.0)
        loop.train_once()
        clock.advance(2 * 86400)
        recent = loop.rank(SALTY).event_id
        loop.train_once()
        assert store.get_event(loop._engine, old) is None
        assert store.event_rewards(loop._engine, old) == []
        assert store.get_event(loop._engine, recent) is not None
    finally:
        loop.close()


def test_delete_logs_empties_the_log(loop):
    loop.rank(SALTY)
    assert loop.admin.log_properties()["start_date"] is not None
    loop.admin.delete_logs()
    assert loop.admin.log_properties()["start_date"] is None
    assert store.count_events(loop._engine) == 0

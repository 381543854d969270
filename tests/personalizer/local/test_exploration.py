"""explorationPercentage under every policy: the probabilities a rank answers, and the propensities it logs."""

from __future__ import annotations

import pytest

from bot.personalizer.base import RankableAction, RankRequest
from bot.personalizer.local import store
from bot.personalizer.local.loop import open_learning_loop
from bot.personalizer.local.settings import AZURE_DEFAULT_POLICY, DEFAULT_POLICY, LoopSettings
from bot.personalizer.local.trainer import training_lines

ACTIONS = [
    RankableAction("pasta", [{"taste": "salty", "cuisine": "italian"}]),
    RankableAction("ice cream", [{"taste": "sweet", "cuisine": "american"}]),
    RankableAction("juice", [{"taste": "sweet", "drink": True}]),
    RankableAction("salad", [{"taste": "salty", "cuisine": "greek"}]),
]
CONTEXT = [{"taste_preference": "salty"}, {"time_of_day": "evening"}]
GREEDY_POLICIES = {"project default": DEFAULT_POLICY, "Azure's default": AZURE_DEFAULT_POLICY}
OTHER_POLICIES = {
    "squarecb": "--cb_explore_adf -q CA --squarecb",
    "softmax": "--cb_explore_adf -q CA --softmax --lambda 10",
}


def trained(database_url, clock, policy, exploration, events=400):
    """A loop whose model learned from `events` ranks that salad (the last action) is liked, nothing else."""
    settings = LoopSettings(
        reward_wait_time=600.0, model_export_frequency=1.0, policy=policy, exploration_percentage=exploration
    )
    loop = open_learning_loop(database_url, settings, clock=clock, run_trainer=False)
    for i in range(events):
        result = loop.rank(RankRequest(CONTEXT, ACTIONS, event_id=f"train-{i}"))
        loop.reward(result.event_id, 1.0 if result.reward_action_id == "salad" else 0.0)
        if i % 50 == 49:
            clock.advance(1)
            loop.train_once()
    return loop


def probabilities(result):
    return {ranked.id: ranked.probability for ranked in result.ranking}


@pytest.mark.parametrize("policy", GREEDY_POLICIES.values(), ids=GREEDY_POLICIES.keys())
def test_a_converged_model_at_20_percent_answers_what_azure_answered(database_url, clock, policy):
    loop = trained(database_url, clock, policy, 0.2)
    try:
        result = loop.rank(RankRequest(CONTEXT, ACTIONS, event_id="look"))
        assert probabilities(result) == pytest.approx(
            {"salad": 0.85, "pasta": 0.05, "ice cream": 0.05, "juice": 0.05}, abs=1e-6
        )
    finally:
        loop.close()


def test_at_0_percent_the_default_policy_serves_its_own_distribution(database_url, clock):
    loop = trained(database_url, clock, DEFAULT_POLICY, 0.0)
    try:
        result = loop.rank(RankRequest(CONTEXT, ACTIONS, event_id="look"))
        assert result.reward_action_id == "salad"
        assert probabilities(result)["salad"] == pytest.approx(1.0)
    finally:
        loop.close()


@pytest.mark.parametrize("policy", [*GREEDY_POLICIES.values(), *OTHER_POLICIES.values()])
def test_every_allowed_action_keeps_its_share_of_exploration_and_excluded_ones_get_none(
    database_url, clock, policy
):
    loop = trained(database_url, clock, policy, 0.3, events=200)
    try:
        result = loop.rank(RankRequest(CONTEXT, ACTIONS, ["juice"], event_id="look"))
        shares = probabilities(result)
        assert shares["juice"] == 0.0
        assert sum(shares.values()) == pytest.approx(1.0)
        for action in ("pasta", "ice cream", "salad"):
            assert shares[action] >= 0.3 / 3 - 1e-9, (action, shares)
    finally:
        loop.close()


def test_changing_the_exploration_changes_the_answer_at_once(database_url, clock):
    loop = trained(database_url, clock, DEFAULT_POLICY, 0.2)
    try:
        loop.admin.update_settings(loop.settings.with_changes(exploration_percentage=0.6))
        shares = probabilities(loop.rank(RankRequest(CONTEXT, ACTIONS, event_id="look")))
        assert shares == pytest.approx(
            {"salad": 0.55, "pasta": 0.15, "ice cream": 0.15, "juice": 0.15}, abs=1e-6
        )
    finally:
        loop.close()


@pytest.mark.parametrize("policy", [DEFAULT_POLICY, AZURE_DEFAULT_POLICY])
def test_the_logged_propensity_is_the_probability_answered_and_training_uses_it(database_url, clock, policy):
    loop = trained(database_url, clock, policy, 0.2)
    try:
        # Event IDs seed the draw: find one that explores (serves an action other than salad).
        results = [loop.rank(RankRequest(CONTEXT, ACTIONS, event_id=f"probe-{i}")) for i in range(60)]
        explored = next(r for r in results if r.reward_action_id != "salad")
        exploited = next(r for r in results if r.reward_action_id == "salad")
        for result, expected in ((explored, 0.05), (exploited, 0.85)):
            row = store.get_event(loop._engine, result.event_id)
            assert row["probability"] == pytest.approx(expected, abs=1e-6)
            assert row["probability"] == probabilities(result)[result.reward_action_id]
        row = store.get_event(loop._engine, explored.event_id)
        labelled = [line for line in training_lines(row, 1.0) if line.startswith("0:")]
        assert len(labelled) == 1 and labelled[0].startswith(f"0:-1.0:{row['probability']!r} |A ")
    finally:
        loop.close()


@pytest.mark.parametrize("mode", ["Apprentice", "LoggingOnly"])
def test_apprentice_and_logging_only_keep_returning_the_baseline_whatever_the_exploration(
    database_url, clock, mode
):
    loop = trained(database_url, clock, DEFAULT_POLICY, 0.5, events=100)
    try:
        loop.admin.update_settings(loop.settings.with_changes(learning_mode=mode))
        for i in range(20):
            result = loop.rank(RankRequest(CONTEXT, ACTIONS, ["pasta"], event_id=f"mode-{i}"))
            assert result.reward_action_id == "ice cream"  # the first action not excluded
            assert probabilities(result)["ice cream"] == 1.0
            assert store.get_event(loop._engine, result.event_id)["probability"] == 1.0
    finally:
        loop.close()

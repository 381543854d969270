"""Policy choices: which default DELETE /configurations/policy restores, and the action ID as a feature."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.personalizer.base import RankableAction, RankRequest
from bot.personalizer.local import store
from bot.personalizer.local.loop import open_learning_loop
from bot.personalizer.local.policy import ACTION_ID_OPTION, check_policy, effective_arguments
from bot.personalizer.local.settings import (
    AZURE_DEFAULT_POLICY,
    DEFAULT_POLICY,
    LoopSettings,
    settings_from_env,
)

ROOT = Path(__file__).resolve().parents[3]
AZURE_EXACTLY = "--cb_explore_adf --epsilon 0.2 --power_t 0 -l 0.001 --cb_type mtr -q ::"
# Two dishes the caller describes alike: only their IDs tell them apart.
TWINS = [RankableAction("tiramisu", [{"taste": "sweet"}]), RankableAction("mochi", [{"taste": "sweet"}])]
CONTEXT = [{"user": "ana"}]
WITHOUT_IDS = DEFAULT_POLICY.replace(ACTION_ID_OPTION, "").strip()


def open_loop(database_url, clock, **changes):
    settings = LoopSettings(reward_wait_time=600.0, model_export_frequency=1.0, **changes)
    return open_learning_loop(database_url, settings, clock=clock, run_trainer=False)


def test_resetting_the_policy_restores_the_projects_default_unless_azures_is_asked_for(database_url, clock):
    loop = open_loop(database_url, clock, policy="--cb_explore_adf -q CA --squarecb")
    try:
        loop.admin.reset_policy()
        assert loop.settings.policy == DEFAULT_POLICY
        loop.admin.update_settings(loop.settings.with_changes(default_policy="azure"))
        loop.admin.set_policy("--cb_explore_adf -q CA --squarecb")
        loop.admin.reset_policy()
        assert loop.settings.policy == AZURE_EXACTLY == AZURE_DEFAULT_POLICY
        latest = store.latest_model(loop._engine)
        assert latest is not None and latest.policy == AZURE_EXACTLY and latest.data is None  # a fresh model
    finally:
        loop.close()


def test_the_azure_default_is_a_setting_of_the_environment_and_a_fresh_loop_starts_on_it():
    settings = settings_from_env({"PERSONALIZER_DEFAULT_POLICY": "Azure"})
    assert settings.default_policy == "azure" and settings.policy == AZURE_EXACTLY
    assert settings_from_env({}).default_policy == "project"
    assert settings_from_env({}).policy == DEFAULT_POLICY
    explicit = settings_from_env(
        {"PERSONALIZER_DEFAULT_POLICY": "azure", "PERSONALIZER_POLICY": "--cb_explore_adf"}
    )
    assert explicit.policy == "--cb_explore_adf"  # a policy the environment names wins
    with pytest.raises(
        ValueError, match="PERSONALIZER_DEFAULT_POLICY='strict' is invalid: project .* or azure"
    ):
        settings_from_env({"PERSONALIZER_DEFAULT_POLICY": "strict"})


def test_the_settings_are_documented_in_env_example():
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    assert "PERSONALIZER_DEFAULT_POLICY=" in example
    assert "--action_id_feature" in example


def train_twins(loop, clock, events=200):
    """Teach the loop that this person likes tiramisu and not mochi."""
    for i in range(events):
        result = loop.rank(RankRequest(CONTEXT, TWINS, event_id=f"t{i}"))
        loop.reward(result.event_id, 1.0 if result.reward_action_id == "tiramisu" else 0.0)
        if i % 20 == 19:
            clock.advance(1)
            loop.train_once()


def shares(loop):
    result = loop.rank(RankRequest(CONTEXT, TWINS, event_id="look"))
    return {ranked.id: ranked.probability for ranked in result.ranking}


def test_with_the_action_id_option_dishes_described_alike_are_told_apart(database_url, clock):
    loop = open_loop(
        database_url, clock, policy=f"{DEFAULT_POLICY} {ACTION_ID_OPTION}", exploration_percentage=0.2
    )
    try:
        train_twins(loop, clock)
        assert shares(loop) == pytest.approx({"tiramisu": 0.9, "mochi": 0.1}, abs=1e-6)
    finally:
        loop.close()


def test_the_default_policy_has_the_option():
    assert DEFAULT_POLICY.split()[-1] == ACTION_ID_OPTION


def test_without_it_only_the_callers_features_count_as_personalizer_had_it(database_url, clock):
    loop = open_loop(database_url, clock, policy=WITHOUT_IDS, exploration_percentage=0.2)
    try:
        train_twins(loop, clock)
        assert shares(loop) == pytest.approx({"tiramisu": 0.5, "mochi": 0.5}, abs=1e-6)
    finally:
        loop.close()


def test_the_action_id_option_is_the_loops_and_never_reaches_vowpal_wabbit(database_url, clock):
    check_policy(f"{WITHOUT_IDS} {ACTION_ID_OPTION}")  # accepted as a policy
    assert ACTION_ID_OPTION not in effective_arguments(f"{WITHOUT_IDS} {ACTION_ID_OPTION}", 0.2)
    loop = open_loop(database_url, clock, policy=WITHOUT_IDS)
    try:
        loop.admin.set_policy(f"{WITHOUT_IDS} {ACTION_ID_OPTION}")
        assert loop.settings.policy.endswith(ACTION_ID_OPTION)  # answered back as it was set
        train_twins(loop, clock, events=40)
        exported = loop.admin.export_model()
        loop.admin.import_model(exported)  # the model loads back under the same policy
    finally:
        loop.close()


@pytest.mark.parametrize(
    "features",
    [[{"taste": "salty", "nutrition_level": 5}], [{"drink": True}], [], [{"cuisine": {"name": "thai"}}]],
)
def test_an_action_line_given_its_id_means_to_vw_what_one_made_with_it_means(features):
    from vowpalwabbit import Workspace

    from bot.personalizer.local.features import action_line, with_id

    vw = Workspace("--cb_explore_adf -q CA --quiet")
    other = action_line("pasta", [{"taste": "sweet"}])
    for _ in range(50):
        vw.learn(["shared |C user=ana", f"0:-1:0.5 {action_line('ice cream', features)}", other])
    made_with = vw.predict(["shared |C user=ana", action_line("ice cream", features), other])
    given = vw.predict(["shared |C user=ana", with_id("ice cream", action_line(None, features)), other])
    vw.finish()
    assert made_with == given and made_with[0] > 0.5

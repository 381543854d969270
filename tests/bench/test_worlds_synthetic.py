"""The synthetic worlds are what bench/worlds_synthetic.py promises: seeded, fresh actions, clicks as drawn."""

import numpy as np
import pytest

from bench.worlds_references import action_lines, play_linucb, play_uniform, shared_line
from bench.worlds_synthetic import FAMILIES, episode
from bot.personalizer.local.features import action_line, context_line


@pytest.mark.parametrize("family", FAMILIES)
def test_the_same_family_and_seed_draw_the_same_run_and_another_seed_another(family: str) -> None:
    a, b, c = episode(family, 4, 300), episode(family, 4, 300), episode(family, 5, 300)
    for name in ("contexts", "actions", "probabilities", "dice"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
        assert not np.array_equal(getattr(a, name), getattr(c, name))
    assert [a.reward(t, k) for t in range(300) for k in range(5)] == [
        b.reward(t, k) for t in range(300) for k in range(5)
    ]


def test_families_differ_for_the_same_seed() -> None:
    drawn = [episode(family, 0, 200).probabilities for family in FAMILIES]
    assert all(not np.array_equal(drawn[i], drawn[j]) for i in range(4) for j in range(i + 1, 4))


@pytest.mark.parametrize("family", FAMILIES)
def test_every_step_shows_five_fresh_actions_with_five_numeric_features(family: str) -> None:
    world = episode(family, 1, 50)
    ids = [action_id for t in range(50) for action_id in world.action_ids(t)]
    assert len(ids) == len(set(ids)) == 250
    context = world.context_features(7)
    assert list(context[0]) == ["x0", "x1", "x2", "x3", "x4"]
    assert all(isinstance(v, float) for v in context[0].values())
    action = world.action_features(7, 2)
    assert list(action[0]) == ["f0", "f1", "f2", "f3", "f4"]
    assert action[0]["f3"] == world.actions[7, 2, 3]
    # The references read the same numbers the service's featurization writes.
    assert shared_line(world, 7) == context_line(context)
    assert action_lines(world, 7)[2] == "|A " + " ".join(f"{k}:{v!r}" for k, v in action[0].items())
    assert action_lines(world, 7)[2][3:] in action_line(world.action_ids(7)[2], action)


@pytest.mark.parametrize("family", FAMILIES)
def test_choosing_matters_and_clicks_follow_the_probabilities(family: str) -> None:
    world = episode(family, 2, 4000)
    assert world.best_expected() > world.uniform_expected() + 0.2
    assert 0.4 < world.uniform_expected() < 0.6
    best = world.probabilities.argmax(axis=1)
    clicks = [world.reward(t, int(best[t])) for t in range(4000)]
    assert abs(np.mean(clicks) - world.best_expected()) < 0.03


def test_linucb_learns_the_linear_world_and_uniform_choice_does_not() -> None:
    world = episode("linear", 0, 1500)
    linucb = np.mean(play_linucb(world)[-500:])
    uniform = np.mean(play_uniform(world))
    assert linucb > uniform + 0.15
    assert abs(uniform - world.uniform_expected()) < 0.04


def test_an_unknown_family_is_refused() -> None:
    with pytest.raises(ValueError, match="family must be one of"):
        episode("quadratic", 0, 10)

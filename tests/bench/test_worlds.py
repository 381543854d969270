"""The simulated worlds behave as docs/benchmarks.md and bench/worlds.py say: seeded, and clicks where promised."""

from collections import Counter

from bench.worlds import ARTICLES, PEOPLE, DinnerWorld, TutorialWorld


def test_tutorial_world_clicks_only_on_the_liked_article_and_switches_at_5000() -> None:
    world = TutorialWorld()
    episode = world.episode(seed=1)
    assert [a.id for a in world.actions] == ARTICLES
    for step in (0, 4999, 5000, 9999):
        clicked = [a.id for a in world.actions if episode.reward(step, a.id) == 1.0]
        assert len(clicked) == 1
    tom_afternoon = (("Tom", "afternoon"), [{"user": "Tom"}, {"time_of_day": "afternoon"}])
    assert world.click_probability(4999, tom_afternoon[0], "music") == 1.0
    assert world.click_probability(5000, tom_afternoon[0], "music") == 0.0
    assert world.click_probability(5000, tom_afternoon[0], "sports") == 1.0
    assert world.context_features(tom_afternoon[0]) == tom_afternoon[1]
    assert all(world.click_probability(9000, ("Anna", t), "sports") == 1.0 for t in ("morning", "afternoon"))


def test_tutorial_users_and_times_are_uniform() -> None:
    counts = Counter(TutorialWorld().episode(seed=3).situations)
    assert len(counts) == 4
    assert all(2300 < n < 2700 for n in counts.values())


def test_worlds_are_deterministic_per_seed() -> None:
    for world in (TutorialWorld(), DinnerWorld()):
        a, b, c = world.episode(5), world.episode(5), world.episode(6)
        assert a.contexts == b.contexts and a.dice == b.dice
        assert a.contexts != c.contexts
    assert DinnerWorld().liked == DinnerWorld().liked


def test_dinner_world_people_like_two_dishes_per_situation_and_change_their_minds() -> None:
    world = DinnerWorld()
    before, after = world.liked
    assert len(before) == len(PEOPLE) * 2 * 4
    assert all(len(liked) == 2 for liked in before.values())
    changed = sum(before[s] != after[s] for s in before)
    assert changed > len(before) // 3
    situation = ("ana", "salty", "evening")
    liked = next(iter(before[situation]))
    others = [a.id for a in world.actions if a.id not in before[situation]]
    assert world.click_probability(0, situation, liked) == 0.9
    assert world.click_probability(0, situation, others[0]) == 0.05


def test_dinner_world_thumbs_are_stochastic_at_the_promised_rates() -> None:
    world = DinnerWorld()
    episode = world.episode(seed=2)
    liked_rewards = [episode.reward(t, sorted(world.liked[0][episode.situations[t]])[0]) for t in range(5000)]
    assert 0.87 < sum(liked_rewards) / 5000 < 0.93
    assert episode.contexts[0][0]["user"] in PEOPLE
    assert set(episode.contexts[0][1]) == {"taste_preference", "time_of_day"}

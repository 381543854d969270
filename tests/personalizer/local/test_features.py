"""Golden VW strings for Personalizer-style features."""

import pytest

from bot.personalizer.local.features import FeatureError, action_line, context_line


def test_quickstart_context_becomes_one_shared_line():
    assert context_line([{"taste_preference": "sweet"}, {"time_of_day": "evening"}]) == (
        "shared |C taste_preference=sweet time_of_day=evening"
    )


def test_quickstart_actions_carry_their_id_and_features():
    assert action_line("pasta", [{"taste": "salty", "spice_level": "medium"}, {"nutrition_level": 5}]) == (
        "|A id=pasta taste=salty spice_level=medium nutrition_level:5"
    )
    assert action_line("juice", [{"drink": True, "fizzy": False}]) == "|A id=juice drink"


def test_nested_objects_become_namespaces_and_deeper_ones_flatten():
    line = context_line([{"device": "phone", "user": {"id": "U1", "tz": {"offset": -5.5}}}])
    assert line == "shared |C device=phone |Cuser id=U1 tz.offset:-5.5"


def test_underscore_names_are_ignored_at_every_level_and_null_is_a_category():
    line = context_line([{"_secret": "x", "mood": None, "user": {"_id": "U1", "name": "Ann"}}])
    assert line == "shared |C mood=null |Cuser name=Ann"


def test_numeric_arrays_are_indexed_features():
    assert action_line("a", [{"embedding": [0.5, 2]}]) == "|A id=a embedding[0]:0.5 embedding[1]:2"


def test_characters_vw_reserves_are_escaped():
    assert action_line("ice cream", [{"note": "a|b:c d%"}]) == "|A id=ice%20cream note=a%7Cb%3Ac%20d%25"


@pytest.mark.parametrize(
    "features, message",
    [
        ({"not": "a list"}, "must be a list"),
        (["text"], "must be an object"),
        ([{"tags": ["a", "b"]}], "only arrays of numbers"),
        ([{"x": float("nan")}], "finite"),
        ([{"x": {1, 2}}], "unsupported value"),
    ],
)
def test_shapes_personalizer_refuses_are_errors(features, message):
    with pytest.raises(FeatureError, match=message):
        context_line(features)

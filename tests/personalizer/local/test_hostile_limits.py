"""The engine's input limits: storable text, VW-sized numbers, and the interaction budget of a policy."""

from __future__ import annotations

import pytest

from bot.personalizer.base import InvalidRequest
from bot.personalizer.local.limits import (
    MAX_INTERACTED_FEATURES,
    check_counts,
    check_storable,
    feature_number,
    interacted_features,
    interaction_terms,
    is_storable,
    unstorable_path,
)

DEFAULT = "--cb_explore_adf -q CA --interactions CCA --synthcover"


@pytest.mark.parametrize("text", ["\ud800", "a\udfffb", "\x00", "ok\x00"])
def test_unstorable_text(text: str) -> None:
    assert not is_storable(text)


@pytest.mark.parametrize("text", ["", "pasta", "crème brûlée", "🍝", "\ufffd", "%00"])
def test_storable_text(text: str) -> None:
    assert is_storable(text)


def test_the_path_of_the_first_unstorable_string_names_where_it_is() -> None:
    features = [{"taste": "sweet"}, {"diet": {"ok": 1, "bad\ud800": 2}}]
    assert unstorable_path(features, "contextFeatures") == "contextFeatures[1].diet.bad\\ud800"
    assert unstorable_path([{"taste": ["a", "\x00"]}], "f") == "f[0].taste[1]"
    assert unstorable_path([{"taste": "sweet"}], "f") is None
    with pytest.raises(InvalidRequest) as refused:
        check_storable([{"x": "\ud800"}], "actions[2].features")
    assert refused.value.target == "actions[2].features"


@pytest.mark.parametrize("number", [10**400, -(10**400), float("inf"), float("nan"), 1e39])
def test_numbers_vw_cannot_hold_are_refused(number: float) -> None:
    with pytest.raises(ValueError):
        feature_number(number)


def test_numbers_vw_can_hold_pass() -> None:
    assert feature_number(2**63) == float(2**63)
    assert feature_number(-3.0e38) == -3.0e38


@pytest.mark.parametrize(
    "arguments,terms",
    [
        (DEFAULT, ("CA", "CCA")),
        ("--cb_explore_adf -q :: --epsilon 0.2", ("::",)),
        ("--cb_explore_adf -qCA --cubic CCA --interactions=AAC,CA", ("CA", "CCA", "AAC", "CA")),
        ("--cb_explore_adf --quadratic CA", ("CA",)),
        ("--cb_explore_adf", ()),
    ],
)
def test_interaction_terms(arguments: str, terms: tuple[str, ...]) -> None:
    assert interaction_terms(arguments) == terms


def test_interacted_features_grow_with_products_of_namespace_sizes() -> None:
    # 12,000 context features and 50 actions of 3 under the default policy: billions, far over the budget.
    assert interacted_features(("CA", "CCA"), 12_000, [3] * 50) > 10**10
    assert interacted_features((), 8, [6] * 4) == 4 * 14
    assert interacted_features(("::",), 2, [1]) == 3 + 9


def test_the_dinner_menu_is_well_within_the_budget() -> None:
    check_counts(DEFAULT, 8, [7] * 50)


def test_a_huge_context_is_refused_under_the_default_policy() -> None:
    with pytest.raises(InvalidRequest) as refused:
        check_counts(DEFAULT, 999, [3] * 50)
    assert refused.value.target == "contextFeatures"
    assert f"{MAX_INTERACTED_FEATURES:,}" in refused.value.message


def test_feature_counts_are_bounded_whatever_the_policy() -> None:
    with pytest.raises(InvalidRequest) as refused:
        check_counts("--cb_explore_adf", 5_000, [1])
    assert refused.value.target == "contextFeatures"
    with pytest.raises(InvalidRequest) as refused:
        check_counts("--cb_explore_adf", 1, [1, 1, 5_000])
    assert refused.value.target == "actions[2].features"

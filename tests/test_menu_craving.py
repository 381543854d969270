"""The craving: which dishes a Rank for salty or sweet may pick, for the shipped menu and for any other."""

from __future__ import annotations

from typing import Any

from bot.menu import DEFAULT_MENU_FILE, load_menu, parse_menu


def _menu(*dishes: dict[str, Any]) -> Any:
    return parse_menu({"dishes": list(dishes)}, "test")


def test_shipped_menu_a_sweet_craving_excludes_every_salty_dish_and_juice() -> None:
    menu = load_menu(DEFAULT_MENU_FILE)
    sweet = menu.fitting("sweet")
    assert sweet == ["ice cream", "pad thai", "teriyaki salmon", "pancakes", "apple pie"]
    assert set(menu.excluded_for("sweet")) == {d.id for d in menu.dishes} - set(sweet)
    assert "juice" in menu.excluded_for("sweet")  # excluded by the menu, though sweet
    assert not set(menu.fitting("salty")) & set(sweet)


def test_the_taste_is_read_from_any_feature_object_in_any_case() -> None:
    menu = _menu(
        {"id": "flan", "features": [{"cuisine": "spanish"}, {"taste": " Sweet "}]},
        {"id": "chips", "features": [{"taste": "SALTY"}]},
    )
    assert [d.taste for d in menu.dishes] == ["sweet", "salty"]
    assert menu.fitting("sweet") == ["flan"] and menu.fitting("Salty") == ["chips"]


def test_dishes_that_do_not_say_their_taste_do_not_fit_a_craving() -> None:
    menu = _menu(
        {"id": "soup", "features": [{"hot": True}]},
        {"id": "cake", "features": [{"taste": "sweet"}]},
    )
    assert menu.fitting("sweet") == ["cake"]
    assert menu.excluded_for("sweet") == ["soup"]


def test_when_nothing_fits_the_whole_menu_is_ranked() -> None:
    menu = _menu(
        {"id": "soup", "features": [{"taste": "sour"}]},
        {"id": "bread", "features": [{"grain": "wheat"}]},
        {"id": "water", "features": [{"taste": "salty"}], "excluded": True},
    )
    assert menu.fitting("salty") == ["soup", "bread"]  # the only salty dish is excluded by the menu
    assert menu.excluded_for("salty") == ["water"]


def test_rejected_dishes_are_excluded_too_in_menu_order() -> None:
    menu = load_menu(DEFAULT_MENU_FILE)
    excluded = menu.excluded_for("sweet", ["pancakes", "ice cream"])
    order = [d.id for d in menu.dishes]
    assert excluded == sorted(excluded, key=order.index)
    assert {"pancakes", "ice cream", "juice", "pasta"} <= set(excluded)
    assert "pad thai" not in excluded
    every_sweet = menu.fitting("sweet")
    assert set(menu.excluded_for("sweet", every_sweet)) == {d.id for d in menu.dishes}

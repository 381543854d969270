"""The menu file: the shipped one, overrides, and errors that name the file, the entry and the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.menu import DEFAULT_MENU_FILE, MenuError, load_menu, parse_menu

SEED_FEATURES = {
    "pasta": [{"taste": "salty", "spice_level": "medium"}, {"nutrition_level": 5, "cuisine": "italian"}],
    "ice cream": [{"taste": "sweet", "spice_level": "none"}, {"nutritional_level": 2}],
    "juice": [{"taste": "sweet", "spice_level": "none"}, {"nutritional_level": 5}, {"drink": True}],
    "salad": [{"taste": "salty", "spice_level": "none"}, {"nutritional_level": 2}],
}


def test_shipped_menu_has_the_quickstart_dishes_with_their_features() -> None:
    menu = load_menu(DEFAULT_MENU_FILE)
    features = {d.id: d.features for d in menu.dishes}
    for dish, expected in SEED_FEATURES.items():
        assert features[dish] == expected


def test_shipped_menu_is_a_real_dinner_choice() -> None:
    menu = load_menu(DEFAULT_MENU_FILE)
    assert 12 <= len(menu.dishes) <= 20
    assert menu.excluded() == ["juice"]
    assert len(menu.selectable()) == len(menu.dishes) - 1
    tastes = {d.features[0]["taste"] for d in menu.dishes if not d.excluded}
    assert tastes == {"salty", "sweet"}


def test_actions_include_excluded_dishes_for_rank_to_report() -> None:
    menu = load_menu(DEFAULT_MENU_FILE)
    assert [a.id for a in menu.actions()] == [d.id for d in menu.dishes]
    assert menu.selectable(["pasta", "salad"]) == [
        d for d in menu.selectable() if d not in ("pasta", "salad")
    ]


def test_json_menu(tmp_path: Path) -> None:
    path = tmp_path / "menu.json"
    path.write_text(json.dumps({"dishes": [{"id": "soup", "features": [{"taste": "salty", "hot": True}]}]}))
    assert load_menu(path).dishes[0].id == "soup"


def _error(tmp_path: Path, text: str, name: str = "menu.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(MenuError) as caught:
        load_menu(path)
    message = str(caught.value)
    assert message.startswith(str(path))
    return message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dishes:\n  - id: soup\n", "dish #1 ('soup'), field 'features'"),
        ("dishes:\n  - features: [{a: 1}]\n", "dish #1, field 'id'"),
        (
            "dishes:\n  - {id: soup, features: [{a: 1}]}\n  - {id: soup, features: [{a: 2}]}\n",
            "dish #2 ('soup')",
        ),
        ("dishes:\n  - {id: soup, features: [{taste: [hot]}]}\n", "field 'features[0].taste'"),
        ("dishes:\n  - {id: soup, features: [{a: 1}, 7]}\n", "field 'features[1]'"),
        ("dishes:\n  - {id: soup, features: [{a: 1}], excluded: maybe}\n", "field 'excluded'"),
        ("dishes:\n  - {id: soup, features: [{a: 1}], price: 3}\n", "field 'price': unknown field"),
        ("dishes:\n  - {id: soup, features: [{a: {b: [x]}}]}\n", "field 'features[0].a.b'"),
        ("dishes:\n  - {id: soup, features: [{a: 1}], excluded: true}\n", "every dish is excluded"),
        ("dishes: []\n", "`dishes` is empty"),
        ("meals: []\n", "top-level `dishes:`"),
        ("dishes: [\n", "not valid YAML"),
    ],
)
def test_errors_name_the_file_the_entry_and_the_field(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in _error(tmp_path, text)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(MenuError, match="cannot read"):
        load_menu(tmp_path / "nope.yaml")


def test_long_ids_and_too_many_dishes() -> None:
    with pytest.raises(MenuError, match="longer than 256"):
        parse_menu({"dishes": [{"id": "x" * 257, "features": [{"a": 1}]}]}, "m")
    with pytest.raises(MenuError, match="at most 50"):
        parse_menu({"dishes": [{"id": str(i), "features": [{"a": 1}]} for i in range(51)]}, "m")

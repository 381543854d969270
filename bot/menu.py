"""The menu: dishes and their features from a YAML or JSON file, validated at start-up."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from bot.personalizer.base import MAX_ID_LENGTH, Features, RankableAction

DEFAULT_MENU_FILE = Path(__file__).with_name("menu.yaml")
# The Personalizer quickstart's context values, in its order (its prompts number them from 1).
TASTES = ["salty", "sweet"]
TIMES_OF_DAY = ["morning", "afternoon", "evening", "night"]
MAX_DISHES = 50  # Personalizer's recommended maximum of actions per Rank
DISH_FIELDS = {"id", "features", "excluded"}
MAX_CRAVINGS_KEPT = 64


def context_features(taste: str, time_of_day: str, user_id: str) -> Features:
    """The Rank context: the quickstart's two features plus the user, so tastes are learned per person."""
    return [{"taste_preference": taste}, {"time_of_day": time_of_day}, {"user": user_id}]


class MenuError(ValueError):
    """The menu file is unreadable or invalid; the message names the file, the entry and the field."""


@dataclass(frozen=True)
class Dish:
    """One dish: its id (also its label), its features, and whether the ranker may pick it."""

    id: str
    features: Features
    excluded: bool = False

    @cached_property  # asked for on every rank: the features never change
    def taste(self) -> str | None:
        """The dish's `taste` feature (first found, lower case), or None when it does not say."""
        for feature in self.features:
            value = feature.get("taste")
            if isinstance(value, str) and value.strip():
                return value.strip().lower()
        return None


@dataclass(frozen=True)
class Menu:
    """The dishes the ranker chooses from."""

    dishes: tuple[Dish, ...]

    def actions(self) -> list[RankableAction]:
        """Every dish as a rankable action (excluded ones too: Rank reports them with probability 0)."""
        return list(self._actions)

    def excluded(self) -> list[str]:
        """Ids of dishes the menu file excludes."""
        return [d.id for d in self.dishes if d.excluded]

    def selectable(self, rejected: list[str] | tuple[str, ...] = ()) -> list[str]:
        """Ids the ranker may still pick once `rejected` are left out."""
        return [d.id for d in self.dishes if not d.excluded and d.id not in rejected]

    def fitting(self, craving: str) -> list[str]:
        """Ids of the rankable dishes whose taste is the craving; every rankable dish when none is.

        Dishes that do not say their taste do not fit a craving: only a menu where nothing fits falls
        back to the whole menu, so a craving never leaves nothing to suggest.
        """
        return list(self._for_craving(craving)[0])

    def excluded_for(self, craving: str, rejected: list[str] | tuple[str, ...] = ()) -> list[str]:
        """What a Rank for this craving excludes: the menu's exclusions, what does not fit, what was rejected.

        In the menu's order, so the learner logs the same list for the same situation.
        """
        if not rejected:
            return list(self._for_craving(craving)[1])
        keep = set(self.fitting(craving)) - set(rejected)
        return [d.id for d in self.dishes if d.id not in keep]

    def candidates(self, craving: str) -> list[RankableAction]:
        """The dishes that fit the craving, as rankable actions: what a Rank for it can choose from."""
        return list(self._for_craving(craving)[2])

    @cached_property
    def _actions(self) -> tuple[RankableAction, ...]:
        return tuple(RankableAction(id=d.id, features=d.features) for d in self.dishes)

    @cached_property
    def _cravings(self) -> dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[RankableAction, ...]]]:
        return {}

    def _for_craving(
        self, craving: str
    ) -> tuple[tuple[str, ...], tuple[str, ...], tuple[RankableAction, ...]]:
        """(fitting ids, excluded ids, fitting actions) for a craving, worked out once per craving.

        Every suggestion and each of the Home tab's ranks asks for these; the menu never changes.
        """
        wanted = craving.strip().lower()
        found = self._cravings.get(wanted)
        if found is None:
            fits = [d.id for d in self.dishes if not d.excluded and d.taste == wanted] or self.selectable()
            keep = set(fits)
            found = (
                tuple(fits),
                tuple(d.id for d in self.dishes if d.id not in keep),
                tuple(a for a in self._actions if a.id in keep),
            )
            if len(self._cravings) < MAX_CRAVINGS_KEPT:  # cravings come from a fixed list; bound it anyway
                self._cravings[wanted] = found
        return found


def load_menu(path: Path) -> Menu:
    """Read and validate a menu file (.yaml, .yml or .json); MenuError says what is wrong and where."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MenuError(f"{path}: cannot read the menu file ({exc.strerror or exc})") from None
    is_json = path.suffix.lower() == ".json"
    try:
        data = json.loads(text) if is_json else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise MenuError(f"{path}: not valid {'JSON' if is_json else 'YAML'}: {exc}") from None
    return parse_menu(data, str(path))


def parse_menu(data: Any, source: str) -> Menu:
    """Validate already-parsed menu data; `source` names the file in errors."""
    if not isinstance(data, dict) or not isinstance(data.get("dishes"), list):
        raise MenuError(f"{source}: expected a top-level `dishes:` list")
    entries = data["dishes"]
    if not entries:
        raise MenuError(f"{source}: `dishes` is empty")
    if len(entries) > MAX_DISHES:
        raise MenuError(f"{source}: {len(entries)} dishes; at most {MAX_DISHES} can be ranked together")
    dishes: list[Dish] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries, start=1):
        dish = _parse_dish(entry, f"{source}: dish #{index}")
        if dish.id in seen:
            raise MenuError(f"{source}: dish #{index} ({dish.id!r}), field 'id': duplicate id")
        seen.add(dish.id)
        dishes.append(dish)
    if all(d.excluded for d in dishes):
        raise MenuError(f"{source}: every dish is excluded; at least one must be rankable")
    return Menu(tuple(dishes))


def _parse_dish(entry: Any, where: str) -> Dish:
    if not isinstance(entry, dict):
        raise MenuError(f"{where}: expected a mapping with `id` and `features`")
    dish_id = entry.get("id")
    if not isinstance(dish_id, str) or not dish_id.strip():
        raise MenuError(f"{where}, field 'id': must be a non-empty string")
    where = f"{where} ({dish_id!r})"
    if len(dish_id) > MAX_ID_LENGTH:
        raise MenuError(f"{where}, field 'id': longer than {MAX_ID_LENGTH} characters")
    unknown = sorted(set(entry) - DISH_FIELDS)
    if unknown:
        raise MenuError(f"{where}, field {unknown[0]!r}: unknown field (allowed: id, features, excluded)")
    excluded = entry.get("excluded", False)
    if not isinstance(excluded, bool):
        raise MenuError(f"{where}, field 'excluded': must be true or false")
    features = entry.get("features")
    if not isinstance(features, list) or not features:
        raise MenuError(f"{where}, field 'features': must be a non-empty list of objects")
    for position, feature in enumerate(features):
        if not isinstance(feature, dict) or not feature:
            raise MenuError(f"{where}, field 'features[{position}]': must be a non-empty object")
        _check_object(feature, f"features[{position}]", where)
    return Dish(id=dish_id, features=features, excluded=excluded)


def _check_object(obj: dict[Any, Any], path: str, where: str) -> None:
    for name, value in obj.items():
        field_path = f"{path}.{name}"
        if not isinstance(name, str) or not name:
            raise MenuError(f"{where}, field '{field_path}': feature names must be non-empty strings")
        if isinstance(value, dict):
            _check_object(value, field_path, where)
        elif isinstance(value, list):
            if not all(_is_number(v) for v in value):
                raise MenuError(f"{where}, field '{field_path}': only arrays of numbers are allowed")
        elif not (value is None or isinstance(value, str | bool) or _is_number(value)):
            raise MenuError(f"{where}, field '{field_path}': must be a string, number, boolean or null")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)

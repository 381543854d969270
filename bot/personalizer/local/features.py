"""Pure: Personalizer-style JSON features → Vowpal Wabbit ADF text lines.

Rules (as Personalizer's): a list of JSON objects; names starting with `_` are ignored; strings are
categorical (`name=value`); numbers are numeric (`name:value`); `true` is a present feature, `false`
is absent; `null` is the category "null"; arrays must be numeric; a nested object becomes its own
namespace, deeper objects are flattened into it with dotted names.

Namespaces: context features live in namespaces whose names start with `C` (`C` for top-level values,
`C<name>` for a nested object), action features in `A` / `A<name>`, so a policy crosses them with
`-q CA` (and `--interactions CCA` for pairs of context features). A policy with `--action_id_feature`
also gives every action its ID as `id=<id>` in `A` (`with_id`), so two actions with the same features can
still be told apart; slot features (multi-slot) live in `S`.
"""

from __future__ import annotations

from typing import Any

from bot.personalizer.local.limits import MAX_NESTING, feature_number

CONTEXT = "C"
ACTION = "A"
_ESCAPES = str.maketrans(
    {"%": "%25", " ": "%20", "\t": "%09", "\n": "%0A", "\r": "%0D", "|": "%7C", ":": "%3A"}
)


class FeatureError(ValueError):
    """A feature is not in a shape Personalizer accepts; the message says where."""


def escape(text: str) -> str:
    """Make text safe as a VW feature or namespace name (space, tab, newline, `|`, `:`, `%` encoded)."""
    return text.translate(_ESCAPES)


def context_line(features: list[dict[str, Any]]) -> str:
    """The shared line of an ADF example, e.g. `shared |C taste=sweet time=evening`."""
    return "shared " + _namespaces(features, CONTEXT, "contextFeatures")


def action_line(action_id: str | None, features: list[dict[str, Any]]) -> str:
    """One action's line, e.g. `|A id=pasta taste=salty nutrition_level:5` (no `id=` when action_id is None)."""
    return _namespaces(features, ACTION, "features", action_id)


def with_id(action_id: str, line: str) -> str:
    """An action line without its ID, given the ID as a feature: the same features as action_line(id, ...)."""
    return f"|{ACTION} id={escape(action_id)} {line}"


def namespaces_line(features: list[dict[str, Any]], prefix: str, where: str) -> str:
    """Features in namespaces named from `prefix` (e.g. `|S course=main` for a slot's features)."""
    return _namespaces(features, prefix, where)


def count_features(features: list[dict[str, Any]]) -> int:
    """How many features a list of objects yields once ignored and absent ones are dropped."""
    spaces: dict[str, list[str]] = {}
    _collect(features, CONTEXT, "features", spaces)
    return sum(len(items) for items in spaces.values())


def _namespaces(features: list[dict[str, Any]], prefix: str, where: str, action_id: str | None = None) -> str:
    spaces: dict[str, list[str]] = {prefix: []}
    if action_id is not None:
        spaces[prefix].append("id=" + escape(action_id))
    _collect(features, prefix, where, spaces)
    parts = [f"|{name} {' '.join(items)}" for name, items in spaces.items() if items]
    return " ".join(parts) if parts else f"|{prefix}"


def _collect(features: Any, prefix: str, where: str, spaces: dict[str, list[str]]) -> None:
    if not isinstance(features, list):
        raise FeatureError(f"{where} must be a list of objects")
    for index, item in enumerate(features):
        if not isinstance(item, dict):
            raise FeatureError(f"{where}[{index}] must be an object")
        for name, value in item.items():
            if not isinstance(name, str):
                raise FeatureError(f"{where}[{index}] has a non-string name")
            if name.startswith("_"):
                continue
            if isinstance(value, dict):
                space = spaces.setdefault(prefix + escape(name), [])
                _flatten(value, "", space, f"{where}[{index}].{name}")
            else:
                _add(spaces.setdefault(prefix, []), name, value, f"{where}[{index}].{name}")


def _flatten(obj: dict[str, Any], path: str, out: list[str], where: str, depth: int = 1) -> None:
    if depth > MAX_NESTING:
        raise FeatureError(f"{where}: objects nest at most {MAX_NESTING} deep")
    for name, value in obj.items():
        if not isinstance(name, str):
            raise FeatureError(f"{where} has a non-string name")
        if name.startswith("_"):
            continue
        full = f"{path}.{name}" if path else name
        if isinstance(value, dict):
            _flatten(value, full, out, f"{where}.{name}", depth + 1)
        else:
            _add(out, full, value, f"{where}.{name}")


def _add(out: list[str], name: str, value: Any, where: str) -> None:
    key = escape(name)
    if value is None:
        out.append(f"{key}=null")
    elif isinstance(value, bool):
        if value:
            out.append(key)
    elif isinstance(value, int | float):
        out.append(f"{key}:{_number(value, where)}")
    elif isinstance(value, str):
        out.append(f"{key}={escape(value)}")
    elif isinstance(value, list):
        for position, element in enumerate(value):
            if isinstance(element, bool) or not isinstance(element, int | float):
                raise FeatureError(f"{where}: only arrays of numbers are allowed")
            out.append(f"{key}[{position}]:{_number(element, where)}")
    else:
        raise FeatureError(f"{where}: unsupported value of type {type(value).__name__}")


def _number(value: float, where: str) -> str:
    try:
        feature_number(value)
    except ValueError as exc:
        raise FeatureError(f"{where}: {exc}") from None
    return repr(value) if isinstance(value, float) else str(value)

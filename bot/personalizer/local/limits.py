"""What one rank may cost: text that storage can hold, numbers VW can hold, and bounded featurized work.

Each limit is checked where the input enters, before anything is predicted or written, and each refusal is
an InvalidRequest naming the field. The interaction budget is what keeps one request from holding the event
loop: Vowpal Wabbit's `-q`/`--interactions` cross namespaces, so a request's work grows with products of
namespace sizes (12,000 context features under `--interactions CCA` would take 30 s to predict).
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from bot.personalizer.base import InvalidRequest

MAX_CONTEXT_FEATURES = 1_000
MAX_ACTION_FEATURES = 1_000
# Features VW generates for one request, interactions included, counted as products of namespace sizes
# (an upper bound: VW drops some duplicates). At about 0.6 ns each, 8M is a few ms of predict.
MAX_INTERACTED_FEATURES = 8_000_000
MAX_FEATURE_VALUE = 3.4e38  # VW keeps feature values as 32-bit floats
MAX_NESTING = 32  # nested objects in features


def is_storable(text: str) -> bool:
    """True if `text` can be stored as UTF-8 by every database here: no lone surrogate, no NUL."""
    if text.isascii():
        return "\x00" not in text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def unstorable_path(value: Any, where: str) -> str | None:
    """The path of the first string (name or value) in a JSON value that cannot be stored, else None."""
    if isinstance(value, str):
        return None if is_storable(value) else where
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = unstorable_path(item, f"{where}[{index}]")
            if found:
                return found
    elif isinstance(value, dict):
        for name, item in value.items():
            if isinstance(name, str) and not is_storable(name):
                return f"{where}.{name.encode('utf-8', 'backslashreplace').decode('ascii', 'replace')}"
            found = unstorable_path(item, f"{where}.{name}")
            if found:
                return found
    return None


def check_storable(value: Any, target: str) -> None:
    """InvalidRequest naming the field if any string in `value` cannot be stored."""
    found = unstorable_path(value, target)
    if found is not None:
        raise InvalidRequest(
            f"{found} holds text that cannot be stored (a lone surrogate or a NUL character).", target=target
        )


def feature_number(value: int | float) -> float:
    """A numeric feature as VW will hold it; ValueError if it is not finite or too large for VW."""
    try:
        as_float = float(value)
    except OverflowError:
        raise ValueError(f"numbers must be at most {MAX_FEATURE_VALUE:g} in size") from None
    if not math.isfinite(as_float):
        raise ValueError("numbers must be finite")
    if abs(as_float) > MAX_FEATURE_VALUE:
        raise ValueError(f"numbers must be at most {MAX_FEATURE_VALUE:g} in size")
    return as_float


@lru_cache(maxsize=64)
def interaction_terms(arguments: str) -> tuple[str, ...]:
    """The namespace interactions a VW argument string asks for, e.g. ("CA", "CCA"); `:` is any namespace."""
    try:
        words = shlex.split(arguments)
    except ValueError:
        words = arguments.split()
    terms: list[str] = []
    for position, word in enumerate(words):
        value: str | None = None
        for flag in ("-q", "--quadratic", "--cubic", "--interactions"):
            if word == flag and position + 1 < len(words):
                value = words[position + 1]
            elif word.startswith(flag + "=") or (flag == "-q" and word.startswith("-q") and len(word) > 2):
                value = word.split("=", 1)[1] if "=" in word else word[2:]
        if value:
            terms.extend(term for term in value.split(",") if term)
    return tuple(terms)


def interacted_features(terms: Sequence[str], context: int, actions: Sequence[int]) -> int:
    """An upper bound on the features VW builds for one request: each action line with the shared line."""
    total = 0
    for own in actions:
        sizes = {"C": context, "A": own, ":": context + own}
        total += context + own
        for term in terms:
            product = 1
            for letter in term:
                product *= sizes.get(letter, 0)
            total += product
    return total


def check_counts(policy: str, context: int, actions: Sequence[int]) -> None:
    """InvalidRequest if the request has more features, or would cost more under `policy`, than allowed."""
    if context > MAX_CONTEXT_FEATURES:
        raise InvalidRequest(
            f"Too many context features: {context}; at most {MAX_CONTEXT_FEATURES} are allowed.",
            target="contextFeatures",
        )
    for position, own in enumerate(actions):
        if own > MAX_ACTION_FEATURES:
            raise InvalidRequest(
                f"Too many features in action {position}: {own}; at most {MAX_ACTION_FEATURES} are allowed.",
                target=f"actions[{position}].features",
            )
    cost = interacted_features(interaction_terms(policy), context, actions)
    if cost > MAX_INTERACTED_FEATURES:
        raise InvalidRequest(
            f"The request is too large for the policy's interactions: {cost:,} features once crossed "
            f"({context} context features); at most {MAX_INTERACTED_FEATURES:,} are allowed. "
            "Send fewer context features or fewer actions.",
            target="contextFeatures",
        )

"""What the suggestion store tells about a person: their newest suggestions, vote counts, history with a dish."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from bot.db import create_database_engine
from bot.suggestions import Shown, Suggestion, SuggestionStore


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def suggestions(
    request: pytest.FixtureRequest, fresh_database: Callable[[str], str]
) -> Iterator[SuggestionStore]:
    engine = create_database_engine(fresh_database(request.param))
    store = SuggestionStore(engine)
    store.create_schema()
    yield store
    engine.dispose()


def _add(store: SuggestionStore, event_id: str, dish: str, at: float, user: str = "U1", **kw: object) -> None:
    store.add(Suggestion(event_id, user, dish, "sweet", "evening", [(dish, 1.0)], created_at=at, **kw))  # type: ignore[arg-type]


def test_recent_is_newest_first_and_only_the_persons(suggestions: SuggestionStore) -> None:
    for i in range(12):
        _add(suggestions, f"e{i}", f"dish{i}", 100.0 + i)
    _add(suggestions, "other", "dish99", 500.0, user="U2")
    shown, _, _ = suggestions.home_history("U1", 10)
    assert [s.dish for s in shown] == [f"dish{i}" for i in range(11, 1, -1)]
    assert shown[0] == Shown("dish11", "sweet", "evening", None, 111.0)
    assert suggestions.home_history("U3") == ([], 0, 0)


def test_vote_counts_count_each_thumb(suggestions: SuggestionStore) -> None:
    for i, vote in enumerate([1.0, 1.0, 0.0, None]):
        _add(suggestions, f"e{i}", "mochi", 100.0 + i)
        if vote is not None:
            assert suggestions.claim_vote(f"e{i}", "U1", vote)
    _add(suggestions, "other", "mochi", 100.0, user="U2")
    suggestions.claim_vote("other", "U2", 1.0)
    assert suggestions.home_history("U1")[1:] == (2, 1)
    assert suggestions.home_history("U9")[1:] == (0, 0)


def test_history_is_the_persons_earlier_suggestions_of_that_dish(suggestions: SuggestionStore) -> None:
    _add(suggestions, "e1", "mochi", 100.0)
    suggestions.claim_vote("e1", "U1", 1.0)
    _add(suggestions, "e2", "churros", 101.0)
    _add(suggestions, "e3", "mochi", 102.0)
    _add(suggestions, "e4", "mochi", 103.0, user="U2")
    assert suggestions.history("U1", "mochi", before=102.0) == [("sweet", "evening", 1.0)]
    assert suggestions.history("U1", "mochi", before=200.0) == [("sweet", "evening", 1.0)]  # the best vote
    assert suggestions.history("U1", "mochi", before=100.0) == []
    assert suggestions.history("U1", "churros", before=200.0) == [("sweet", "evening", None)]


def test_a_suggestion_added_with_its_history_gets_only_what_came_before_it(
    suggestions: SuggestionStore,
) -> None:
    _add(suggestions, "e1", "mochi", 100.0)
    suggestions.claim_vote("e1", "U1", 1.0)
    _add(suggestions, "e2", "mochi", 101.0, user="U2")
    new = Suggestion("e3", "U1", "mochi", "sweet", "night", [("mochi", 1.0)], created_at=102.0)
    assert suggestions.add_and_history(new) == [("sweet", "evening", 1.0)]
    assert suggestions.get("e3") == new
    again = Suggestion("e4", "U1", "mochi", "sweet", "night", [("mochi", 1.0)], created_at=103.0)
    assert sorted(suggestions.add_and_history(again)) == [("sweet", "evening", 1.0), ("sweet", "night", None)]

"""The suggestion store: a vote or a retry is claimed once, even from several engines (processes) at once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.db import create_database_engine
from bot.suggestions import Suggestion, SuggestionStore


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def stores(
    request: pytest.FixtureRequest, fresh_database: Callable[[str], str]
) -> Iterator[list[SuggestionStore]]:
    """Four stores on one database, each with its own engine, as four app processes would have."""
    url = fresh_database(request.param)
    engines = [create_database_engine(url) for _ in range(4)]
    stores = [SuggestionStore(engine) for engine in engines]
    stores[0].create_schema()
    stores[0].add(
        Suggestion(
            "ev1", "U1", "pasta", "salty", "evening", [("pasta", 0.6), ("salad", 0.4)], ["juice"], [], "C1"
        )
    )
    yield stores
    for engine in engines:
        engine.dispose()


def test_round_trip(stores: list[SuggestionStore]) -> None:
    found = stores[1].get("ev1")
    assert found is not None
    assert found.ranking == [("pasta", 0.6), ("salad", 0.4)]
    assert (found.excluded, found.rejected, found.channel, found.vote, found.retried) == (
        ["juice"],
        [],
        "C1",
        None,
        False,
    )
    assert stores[1].get("nope") is None


def test_only_one_of_many_concurrent_claims_wins(stores: list[SuggestionStore]) -> None:
    with ThreadPoolExecutor(16) as pool:
        wins = list(pool.map(lambda i: stores[i % 4].claim_vote("ev1", "U1", float(i % 2)), range(64)))
    assert wins.count(True) == 1
    assert stores[0].get("ev1").vote == float(wins.index(True) % 2)


def test_only_the_requester_can_claim(stores: list[SuggestionStore]) -> None:
    assert not stores[0].claim_vote("ev1", "U2", 1.0)
    assert stores[0].get("ev1").vote is None


def test_a_released_claim_can_be_claimed_again(stores: list[SuggestionStore]) -> None:
    assert stores[0].claim_vote("ev1", "U1", 1.0)
    assert not stores[1].claim_vote("ev1", "U1", 0.0)
    stores[1].release_vote("ev1", 1.0)
    assert stores[2].claim_vote("ev1", "U1", 0.0)


def test_try_another_only_after_a_thumbs_down_and_only_once(stores: list[SuggestionStore]) -> None:
    assert not stores[0].claim_retry("ev1", "U1")  # no vote yet
    stores[0].claim_vote("ev1", "U1", 0.0)
    assert not stores[0].claim_retry("ev1", "U2")
    with ThreadPoolExecutor(8) as pool:
        wins = list(pool.map(lambda i: stores[i % 4].claim_retry("ev1", "U1"), range(16)))
    assert wins.count(True) == 1
    stores[0].release_retry("ev1")
    assert stores[3].claim_retry("ev1", "U1")


def test_a_suggest_click_is_claimed_once_until_released(stores: list[SuggestionStore]) -> None:
    with ThreadPoolExecutor(8) as pool:
        wins = list(pool.map(lambda i: stores[i % 4].claim_suggest("1.000100:U1"), range(16)))
    assert wins.count(True) == 1
    assert stores[0].claim_suggest("1.000100:U2")  # another user, or another message, is another click
    stores[1].release_suggest("1.000100:U1")
    assert stores[2].claim_suggest("1.000100:U1")

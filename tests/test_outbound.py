"""Calls to Slack with deadlines: replies in order, never retried, never holding the caller."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from slack_fakes import BOT_TOKEN, DRIP_BYTES, FakeSlack

from bot.outbound import ListenerClient, Replies


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def test_replies_to_one_response_url_arrive_in_the_order_they_were_made(fake: FakeSlack) -> None:
    fake.delays["respond/ordered"] = 0.05  # every post in flight at once, were they not chained
    replies = Replies()
    respond = replies.respond_to(fake.response_url("ordered"))
    assert respond is not None
    for i in range(20):
        respond(text=f"reply {i}", replace_original=False)
    replies.close(wait=10)
    assert [r["text"] for r in fake.responses("ordered")] == [f"reply {i}" for i in range(20)]
    assert fake.responses("ordered")[0]["replace_original"] is False


def test_a_reply_that_times_out_is_not_sent_again(fake: FakeSlack) -> None:
    fake.delays["respond/hangs"] = 60
    replies = Replies(timeout=1)
    respond = replies.respond_to(fake.response_url("hangs"))
    assert respond is not None
    respond(text="once")  # returns at once: the post runs on the reply pool
    assert replies.close(wait=5) == 0  # it ended (timed out) within the wait
    assert fake.held("respond/hangs") == 1


def test_closing_counts_the_replies_it_abandons(fake: FakeSlack) -> None:
    replies = Replies(threads=1, timeout=2)
    for i in range(3):
        fake.delays[f"respond/stuck-{i}"] = 60
        respond = replies.respond_to(fake.response_url(f"stuck-{i}"))
        assert respond is not None
        respond(text="x")
    fake.wait(lambda: [1] * fake.held("respond/stuck-0"), 1, 5.0, "the first post")
    assert replies.close(wait=0.1) == 3  # one still posting, two never started


def test_no_response_url_means_no_respond() -> None:
    assert Replies().respond_to(None) is None
    assert Replies().respond_to("") is None


def test_users_info_gives_up_after_its_deadline(fake: FakeSlack) -> None:
    fake.delays["api/users.info/U1SLOW"] = 60
    client = ListenerClient(BOT_TOKEN, fake.api_url)
    assert client.users_info(user="U1FAST")["user"]["id"] == "U1FAST"
    with pytest.raises(Exception):  # noqa: B017 (urllib's timeout, whichever class it surfaces as)
        client.users_info(user="U1SLOW")
    assert fake.held("api/users.info") == 1  # and not retried


def test_a_reply_whose_answer_drips_is_cut_at_its_deadline(fake: FakeSlack) -> None:
    """Headers at once, then a byte every 0.2 s (80 s in all): the reply thread is free again after 1 s."""
    fake.drips["respond/drip"] = 0.2
    replies = Replies(timeout=1)
    respond = replies.respond_to(fake.response_url("drip"))
    assert respond is not None
    respond(text="once")
    assert replies.close(wait=5) == 0  # it ended within the wait, the answer unfinished
    cut = fake.wait(lambda: fake.cuts("respond/drip"), 1, 5.0, "the bot hanging up")[0]
    assert cut["sent"] < DRIP_BYTES
    assert fake.held("respond/drip") == 1  # and not retried


@pytest.mark.parametrize(
    ("method", "key"), [("users_info", "api/users.info"), ("chat_postMessage", "api/chat.postMessage")]
)
def test_a_web_api_call_whose_answer_drips_fails_at_its_deadline(
    fake: FakeSlack, method: str, key: str
) -> None:
    fake.drips[key] = 0.2
    client = ListenerClient(BOT_TOKEN, fake.api_url)
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            getattr(client, method)(user="U1DRIP", channel="C1", text="x")
        except Exception as exc:  # noqa: BLE001 (whichever error the cut surfaces as: it must be one)
            outcome.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    caller.join(5)  # users.info has 1 s, the others 2 s; the whole answer would take 80 s
    assert not caller.is_alive()
    assert len(outcome) == 1
    assert fake.wait(lambda: fake.cuts(key), 1, 5.0, "the bot hanging up")[0]["sent"] < DRIP_BYTES


def test_calls_that_do_not_drip_are_answered_as_before(fake: FakeSlack) -> None:
    """The whole-call deadline changes nothing for a normal answer, an error answer or a reply."""
    client = ListenerClient(BOT_TOKEN, fake.api_url)
    assert client.chat_postMessage(channel="C1", text="x")["ok"] is True
    assert client.users_info(user="U1FAST")["user"]["id"] == "U1FAST"
    replies = Replies()
    respond = replies.respond_to(fake.response_url("plain"))
    assert respond is not None
    respond(text="hello")
    assert replies.close(wait=5) == 0
    assert [r["text"] for r in fake.wait_for_responses("plain")] == ["hello"]

"""The conversation end to end: real HTTP on loopback, signed like Slack, the real learner behind it."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import requests
from slack_fakes import FakeSlack, RunningApp, block_action, sign, taste_state

from blocks import ids
from bot.personalizer.local import store

ALICE, BOB = "U1ALICE", "U2BOB"


def _event_id(message: dict[str, Any]) -> str:
    """The event ID a suggestion's vote (or Try another) buttons carry."""
    for block in message["blocks"]:
        if block.get("block_id") == ids.VOTE_BLOCK:
            return block["elements"][0]["value"]
    raise AssertionError(f"no vote buttons in {message}")


def _action_ids(message: dict[str, Any]) -> list[str]:
    return [
        e["action_id"] for b in message.get("blocks", []) for e in b.get("elements", []) if "action_id" in e
    ]


def _headline(message: dict[str, Any]) -> str:
    return message["blocks"][0]["text"]["text"]


def _suggest(app: RunningApp, fake: FakeSlack, name: str, url: str, taste: str = "sweet") -> dict[str, Any]:
    state = taste_state(taste)
    seen = len(fake.responses(name))
    response = app.action(block_action(ids.SUGGEST, url, value="|evening", state=state))
    assert response.status_code == 200
    return fake.wait_for_responses(name, seen + 1)[-1]


def _offset_for_local_hour(hour: float) -> int:
    """A tz_offset putting the user's clock at `hour` now."""
    now = datetime.now(UTC)
    seconds_now = now.hour * 3600 + now.minute * 60 + now.second
    offset = (int(hour * 3600) - seconds_now) % 86400
    return offset - 86400 if offset > 43200 else offset


def test_healthz(slack_app: RunningApp) -> None:
    assert slack_app.session.get(f"{slack_app.base_url}/healthz").json() == {"status": "ok"}


def test_app_verified_its_token_with_auth_test(slack_app: RunningApp, fake_slack: FakeSlack) -> None:
    assert fake_slack.api_calls("auth.test")


def test_command_answers_with_menus_time_preselected_from_users_tz(
    slack_app: RunningApp, fake_slack: FakeSlack, response_url: Any, validate_blocks: Any
) -> None:
    name, url = response_url
    fake_slack.tz_offset = _offset_for_local_hour(19.5)  # 19:30 where the user is: evening
    started = time.monotonic()
    response = slack_app.command("", url)
    assert response.status_code == 200 and time.monotonic() - started < 3
    message = fake_slack.wait_for_responses(name)[0]
    validate_blocks(message["blocks"])
    assert message["response_type"] == "ephemeral"
    menus = next(b for b in message["blocks"] if b.get("block_id") == ids.MENUS_BLOCK)
    taste, time_of_day, suggest = menus["elements"]
    assert [o["value"] for o in taste["options"]] == ["salty", "sweet"]
    assert "initial_option" not in taste
    assert [o["value"] for o in time_of_day["options"]] == ["morning", "afternoon", "evening", "night"]
    assert time_of_day["initial_option"]["value"] == "evening"
    assert suggest["action_id"] == ids.SUGGEST and suggest["style"] == "primary"
    assert any(c["user"] == ALICE for c in fake_slack.api_calls("users.info"))


def test_menu_choices_are_acknowledged(
    slack_app: RunningApp, fake_slack: FakeSlack, response_url: Any
) -> None:
    _, url = response_url
    for action_id in (ids.TASTE_SELECT, ids.TIME_SELECT):
        payload = block_action(action_id, url)
        payload["actions"][0].update(type="static_select", selected_option={"value": "sweet"})
        assert slack_app.action(payload).status_code == 200  # Bolt answers 404 to an unhandled action


def test_suggest_ranks_with_taste_time_and_user_and_replaces_the_menus(
    slack_app: RunningApp, fake_slack: FakeSlack, response_url: Any, learner_db: Any, validate_blocks: Any
) -> None:
    name, url = response_url
    message = _suggest(slack_app, fake_slack, name, url, taste="sweet")
    validate_blocks(message["blocks"])
    assert message["replace_original"] is True
    assert _action_ids(message) == [ids.VOTE_UP, ids.VOTE_DOWN]
    event = store.get_event(learner_db, _event_id(message))
    assert event is not None
    assert json.loads(event["context"]) == [
        {"taste_preference": "sweet"},
        {"time_of_day": "evening"},
        {"user": ALICE},
    ]
    excluded = json.loads(event["excluded"])
    assert "juice" in excluded and "pasta" in excluded and "pad thai" not in excluded  # the sweet craving
    assert _headline(message) == f"How about {event['chosen_id']}?"
    lines = [b["elements"][0]["text"] for b in message["blocks"] if b["type"] == "context"]
    assert lines[0].endswith("sweet craving, evening") or "sweet craving in the evening" in lines[0]
    assert lines[1].startswith("Runners-up: ")
    shown = [part.rsplit(" ", 1)[0] for part in lines[1].removeprefix("Runners-up: ").split(" · ")]
    assert 1 <= len(shown) <= 3 and not set(shown) & set(excluded) and event["chosen_id"] not in shown
    buttons = next(b for b in message["blocks"] if b.get("block_id") == ids.VOTE_BLOCK)["elements"]
    assert [b["accessibility_label"] for b in buttons] == [
        f"I'd eat this: {event['chosen_id']}",
        f"Not for me: {event['chosen_id']}",
    ]


def test_each_suggest_is_a_new_event(slack_app: RunningApp, fake_slack: FakeSlack, response_url: Any) -> None:
    name, url = response_url
    first = _event_id(_suggest(slack_app, fake_slack, name, url))
    second = _event_id(_suggest(slack_app, fake_slack, name, url))
    assert first != second
    assert len(first) == 36 and first.count("-") == 4  # a UUID, as the quickstart makes them


def test_thumbs_up_rewards_1_and_shows_the_vote(
    slack_app: RunningApp, fake_slack: FakeSlack, response_url: Any, learner_db: Any, validate_blocks: Any
) -> None:
    name, url = response_url
    event_id = _event_id(_suggest(slack_app, fake_slack, name, url))
    assert slack_app.action(block_action(ids.VOTE_UP, url, value=event_id)).status_code == 200
    voted = fake_slack.wait_for_responses(name, 2)[-1]
    validate_blocks(voted["blocks"])
    assert [v for v, _ in store.event_rewards(learner_db, event_id)] == [1.0]
    assert voted["replace_original"] is True
    assert _action_ids(voted) == []  # no vote buttons once voted, no Try another after 👍
    assert "👍" in json.dumps(voted["blocks"], ensure_ascii=False)


def test_thumbs_down_rewards_0_then_try_another_excludes_the_rejected_dish(
    slack_app: RunningApp, fake_slack: FakeSlack, response_url: Any, learner_db: Any, validate_blocks: Any
) -> None:
    name, url = response_url
    first = _suggest(slack_app, fake_slack, name, url, taste="salty")
    event_id = _event_id(first)
    slack_app.action(block_action(ids.VOTE_DOWN, url, value=event_id))
    voted = fake_slack.wait_for_responses(name, 2)[-1]
    validate_blocks(voted["blocks"])
    assert [v for v, _ in store.event_rewards(learner_db, event_id)] == [0.0]
    assert _action_ids(voted) == [ids.TRY_ANOTHER]
    rejected = store.get_event(learner_db, event_id)["chosen_id"]

    slack_app.action(block_action(ids.TRY_ANOTHER, url, value=event_id))
    second = fake_slack.wait_for_responses(name, 3)[-1]
    validate_blocks(second["blocks"])
    second_id = _event_id(second)
    assert second_id != event_id
    event = store.get_event(learner_db, second_id)
    excluded = json.loads(event["excluded"])
    assert rejected in excluded and "juice" in excluded and "ice cream" in excluded  # and every sweet dish
    assert event["chosen_id"] != rejected
    assert json.loads(event["context"])[0] == {"taste_preference": "salty"}
    assert store.event_rewards(learner_db, second_id) == []


def test_another_users_click_is_refused_and_sends_nothing(
    slack_app: RunningApp, fake_slack: FakeSlack, response_url: Any, learner_db: Any
) -> None:
    name, url = response_url
    event_id = _event_id(_suggest(slack_app, fake_slack, name, url))
    slack_app.action(block_action(ids.VOTE_UP, url, value=event_id, user=BOB))
    refusal = fake_slack.wait_for_responses(name, 2)[-1]
    assert refusal == {
        "text": f"Only <@{ALICE}> can rate this.",
        "response_type": "ephemeral",
        "replace_original": False,
    }
    assert store.event_rewards(learner_db, event_id) == []
    # The requester can still vote.
    slack_app.action(block_action(ids.VOTE_DOWN, url, value=event_id))
    fake_slack.wait_for_responses(name, 3)
    assert [v for v, _ in store.event_rewards(learner_db, event_id)] == [0.0]


def test_a_double_click_counts_once(
    slack_app: RunningApp, fake_slack: FakeSlack, response_url: Any, learner_db: Any
) -> None:
    name, url = response_url
    event_id = _event_id(_suggest(slack_app, fake_slack, name, url))
    clicks = 8
    body = urlencode({"payload": json.dumps(block_action(ids.VOTE_UP, url, value=event_id))})
    start = threading.Barrier(clicks)

    def click(_: int) -> int:
        with requests.Session() as session:
            session.get(f"{slack_app.base_url}/healthz")  # connect first, so the clicks leave together
            start.wait()
            return session.post(
                f"{slack_app.base_url}/slack/events", data=body, headers=sign(body)
            ).status_code

    with ThreadPoolExecutor(clicks) as pool:
        assert list(pool.map(click, range(clicks))) == [200] * clicks
    redraws = fake_slack.wait_for_responses(name, 1 + clicks)[1:]  # every click redraws the voted message
    assert all(_action_ids(r) == [] for r in redraws)
    assert [v for v, _ in store.event_rewards(learner_db, event_id)] == [1.0]
    # A later 👎 cannot change the vote.
    slack_app.action(block_action(ids.VOTE_DOWN, url, value=event_id))
    fake_slack.wait_for_responses(name, 2 + clicks)
    assert [v for v, _ in store.event_rewards(learner_db, event_id)] == [1.0]


def test_text_shortcut_any_order_any_case(
    slack_app: RunningApp, fake_slack: FakeSlack, response_url: Any, learner_db: Any, validate_blocks: Any
) -> None:
    name, url = response_url
    assert slack_app.command("EVENING Sweet", url).status_code == 200
    message = fake_slack.wait_for_responses(name)[0]
    validate_blocks(message["blocks"])
    assert message["response_type"] == "ephemeral"
    event = store.get_event(learner_db, _event_id(message))
    assert json.loads(event["context"])[:2] == [{"taste_preference": "sweet"}, {"time_of_day": "evening"}]


def test_one_word_shortcut_preselects_it_in_the_menus(
    slack_app: RunningApp, fake_slack: FakeSlack, response_url: Any
) -> None:
    name, url = response_url
    slack_app.command("Salty", url)
    menus = next(
        b for b in fake_slack.wait_for_responses(name)[0]["blocks"] if b.get("block_id") == ids.MENUS_BLOCK
    )
    assert menus["elements"][0]["initial_option"]["value"] == "salty"


def test_help_and_bad_arguments_answer_usage(
    slack_app: RunningApp, fake_slack: FakeSlack, response_url: Any
) -> None:
    name, url = response_url
    for count, text in enumerate(("help", "spicy evening", "salty sweet"), start=1):
        slack_app.command(text, url)
        fake_slack.wait_for_responses(name, count)
    answers = [r["text"] for r in fake_slack.responses(name)]
    assert all("salty, sweet" in a and "morning, afternoon, evening, night" in a for a in answers)
    assert "`spicy`" in answers[1] and "`sweet`" in answers[2]


def test_suggest_without_a_taste_asks_for_one(
    slack_app: RunningApp, fake_slack: FakeSlack, response_url: Any, learner_db: Any
) -> None:
    name, url = response_url
    before = store.count_events(learner_db)
    slack_app.action(block_action(ids.SUGGEST, url, value="|evening"))
    answer = fake_slack.wait_for_responses(name)[0]
    assert "Pick a taste" in answer["text"] and answer["replace_original"] is False
    assert store.count_events(learner_db) == before


def test_vote_on_unknown_suggestion_is_answered_not_rewarded(
    slack_app: RunningApp, fake_slack: FakeSlack, response_url: Any
) -> None:
    name, url = response_url
    slack_app.action(block_action(ids.VOTE_UP, url, value="no-such-event"))
    assert "can't find that suggestion" in fake_slack.wait_for_responses(name)[0]["text"]


def test_app_home_opened_publishes_the_home_tab(
    slack_app: RunningApp, fake_slack: FakeSlack, validate_view: Any
) -> None:
    body = json.dumps(
        {
            "token": "legacy",
            "team_id": "T0FAKE",
            "api_app_id": "A0FAKE",
            "type": "event_callback",
            "event_id": "Ev0HOME",
            "event_time": int(time.time()),
            "event": {"type": "app_home_opened", "user": "U3HOME", "channel": "D0", "tab": "home"},
        }
    )

    headers = {**sign(body), "Content-Type": "application/json"}
    assert slack_app.post(body, headers).status_code == 200
    calls = fake_slack.wait(
        lambda: [c for c in fake_slack.api_calls("views.publish") if c["user_id"] == "U3HOME"],
        1,
        5,
        "views.publish",
    )
    view = calls[0]["view"]
    validate_view(json.loads(view) if isinstance(view, str) else view)


def test_a_double_click_on_suggest_ranks_once(
    slack_app: RunningApp, fake_slack: FakeSlack, response_url: Any, learner_db: Any
) -> None:
    name, url = response_url
    state = taste_state("sweet")
    payload = block_action(ids.SUGGEST, url, value="|night", state=state, message_ts="1700000001.000001")
    body = urlencode({"payload": json.dumps(payload)})
    start = threading.Barrier(4)

    def click(_: int) -> int:
        with requests.Session() as session:
            session.get(f"{slack_app.base_url}/healthz")
            start.wait()
            return session.post(
                f"{slack_app.base_url}/slack/events", data=body, headers=sign(body)
            ).status_code

    before = store.count_events(learner_db)
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(click, range(4))) == [200] * 4
    fake_slack.wait_for_responses(name)
    fake_slack.wait(  # the other three clicks are dropped (and logged), not ranked
        lambda: [
            line for line in slack_app.log().splitlines() if "1700000001.000001 already handled" in line
        ],
        3,
        5,
        "dropped Suggest clicks",
        poll=0.02,
    )
    assert store.count_events(learner_db) == before + 1
    assert len(fake_slack.responses(name)) == 1

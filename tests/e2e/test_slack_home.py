"""The Home tab end to end: about the person, refreshed after each vote, and read without teaching the learner."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from slack_fakes import FakeSlack, RunningApp, app_environment, block_action, sign, start_app, taste_state
from sqlalchemy import Engine, select

from blocks import ids
from bot.db import create_database_engine
from bot.personalizer.local import store

MENU = """\
dishes:
  - {id: churros, features: [{taste: sweet, fried: true}]}
  - {id: mochi, features: [{taste: sweet, cuisine: japanese}]}
  - {id: fries, features: [{taste: salty, fried: true}]}
  - {id: olives, features: [{taste: salty, cuisine: greek}]}
"""
CONTEXTS = 8  # 2 cravings × 4 times of day


@pytest.fixture(scope="module")
def home_app(fake_slack: FakeSlack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    """The app on a fresh database; rewards wait 5 s, so unrewarded events settle within the test."""
    workdir = tmp_path_factory.mktemp("home")
    menu = workdir / "menu.yaml"
    menu.write_text(MENU)
    env = app_environment(fake_slack, workdir, MENU_FILE=str(menu), PERSONALIZER_REWARD_WAIT_TIME="5")
    app = start_app(env, workdir)
    yield app
    app.stop()


@pytest.fixture(scope="module")
def home_db(home_app: RunningApp) -> Iterator[Engine]:
    engine = create_database_engine(home_app.database_url)
    yield engine
    engine.dispose()


def _views(fake: FakeSlack, user: str) -> list[dict[str, Any]]:
    views = [c["view"] for c in fake.api_calls("views.publish") if c["user_id"] == user]
    return [json.loads(v) if isinstance(v, str) else v for v in views]


def _open_home(app: RunningApp, fake: FakeSlack, user: str, tab: str = "home") -> None:
    body = json.dumps(
        {
            "token": "legacy",
            "team_id": "T0FAKE",
            "api_app_id": "A0FAKE",
            "type": "event_callback",
            "event_id": f"Ev{time.monotonic_ns()}",
            "event_time": int(time.time()),
            "event": {"type": "app_home_opened", "user": user, "channel": "D0", "tab": tab},
        }
    )
    assert app.post(body, {**sign(body), "Content-Type": "application/json"}).status_code == 200


def _home(app: RunningApp, fake: FakeSlack, user: str) -> dict[str, Any]:
    """Open the Home tab and wait for the view it publishes."""
    seen = len(_views(fake, user))
    _open_home(app, fake, user)
    return fake.wait(lambda: _views(fake, user), seen + 1, 10, f"views.publish for {user}")[-1]


def _text(view: dict[str, Any]) -> str:
    parts = []
    for block in view["blocks"]:
        if isinstance(block.get("text"), dict):
            parts.append(block["text"]["text"])
        parts += [e["text"] for e in block.get("elements", []) if isinstance(e.get("text"), str)]
    return "\n".join(parts)


def _learned_rows(view: dict[str, Any], taste: str) -> list[str]:
    section = next(b for b in view["blocks"] if b.get("text", {}).get("text", "").startswith(f"*{taste}*"))
    return section["text"]["text"].splitlines()[1:]


def _suggest_and_vote(app: RunningApp, fake: FakeSlack, user: str, name: str, like: str) -> tuple[str, bool]:
    """Suggest (sweet, evening), then 👍 if it is `like`, else 👎; the dish and the vote."""
    url = fake.response_url(name)
    app.action(block_action(ids.SUGGEST, url, user=user, value="|evening", state=taste_state("sweet")))
    message = fake.wait_for_responses(name)[0]
    votes = next(b for b in message["blocks"] if b.get("block_id") == ids.VOTE_BLOCK)
    dish = message["blocks"][0]["text"]["text"].removeprefix("How about ").removesuffix("?")
    liked = dish == like
    published = len(_views(fake, user))
    app.action(
        block_action(
            ids.VOTE_UP if liked else ids.VOTE_DOWN, url, user=user, value=votes["elements"][0]["value"]
        )
    )
    fake.wait_for_responses(name, 2)
    fake.wait(lambda: _views(fake, user), published + 1, 10, "the Home tab refreshed after a vote")
    return dish, liked


def test_a_new_persons_home_tab_has_suggest_now_and_every_context(
    home_app: RunningApp, fake_slack: FakeSlack, validate_view: Any
) -> None:
    view = _home(home_app, fake_slack, "U0NEW")
    validate_view(view)
    button = view["blocks"][1]["accessory"]
    assert button["action_id"] == ids.HOME_SUGGEST
    text = _text(view)
    assert "👍 0 · 👎 0" in text and "Nothing yet" in text
    for taste, dishes in (("Sweet", ("churros", "mochi")), ("Salty", ("fries", "olives"))):
        rows = _learned_rows(view, taste)
        assert [r.split(" ")[2].rstrip(":") for r in rows] == ["morning", "afternoon", "evening", "night"]
        assert all("50%" in r and "no favourite yet (2 dishes tie)" in r for r in rows)  # nothing learned
        assert not any(d in r for d in dishes for r in rows)


def test_the_messages_tab_publishes_nothing(home_app: RunningApp, fake_slack: FakeSlack) -> None:
    _open_home(home_app, fake_slack, "U0MSG", tab="messages")
    _home(home_app, fake_slack, "U0MSG2")  # processed after the first: by then a view would have been sent
    assert _views(fake_slack, "U0MSG") == []


def test_votes_show_on_the_home_tab_newest_first_and_it_learns_a_favourite(
    home_app: RunningApp, fake_slack: FakeSlack, validate_view: Any
) -> None:
    user = "U1FAN"
    votes = [_suggest_and_vote(home_app, fake_slack, user, f"fan{i}", like="mochi") for i in range(12)]
    likes = sum(liked for _, liked in votes)
    view = _views(fake_slack, user)[-1]  # the one published after the last vote
    validate_view(view)
    text = _text(view)
    assert f"👍 {likes} · 👎 {len(votes) - likes}" in text
    recent = text.split("*Your recent suggestions*\n", 1)[1].splitlines()[:10]
    expected = [("👍" if liked else "👎") + f" {dish} · sweet, evening" for dish, liked in reversed(votes)][
        :10
    ]
    assert [line.rsplit(" · ", 1)[0] for line in recent] == expected
    # The learner catches up within a few model updates (one a second here): mochi becomes the favourite.
    deadline = time.monotonic() + 30
    while True:
        evening = next(
            r for r in _learned_rows(_home(home_app, fake_slack, user), "Sweet") if " evening:" in r
        )
        if "*mochi*" in evening:
            break
        assert time.monotonic() < deadline, f"mochi never became the favourite: {evening}"
        time.sleep(1)  # waiting for the next model, not timing anything
    assert int(evening.split("` ")[1].split("%")[0]) > 50


def test_suggest_now_posts_the_menus_in_the_persons_messages_with_the_app(
    home_app: RunningApp, fake_slack: FakeSlack, validate_blocks: Any
) -> None:
    payload = block_action(ids.HOME_SUGGEST, fake_slack.response_url("unused"), user="U2HOME")
    payload["container"] = {"type": "view", "view_id": "V0FAKE"}
    payload.pop("response_url")
    payload.pop("channel")
    assert home_app.action(payload).status_code == 200
    posts = fake_slack.wait(
        lambda: [c for c in fake_slack.api_calls("chat.postMessage") if c.get("channel") == "U2HOME"],
        1,
        5,
        "chat.postMessage",
    )
    blocks = posts[0]["blocks"]
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    validate_blocks(blocks)
    assert [e["action_id"] for e in blocks[1]["elements"]] == [ids.TASTE_SELECT, ids.TIME_SELECT, ids.SUGGEST]
    assert fake_slack.responses("unused") == []


def test_reading_the_home_tab_logs_no_event_that_will_be_learned(
    home_app: RunningApp, fake_slack: FakeSlack, home_db: Engine
) -> None:
    reader = "U3READER"
    _home(home_app, fake_slack, reader)
    _home(home_app, fake_slack, reader)
    rows = _events_of(home_db, reader)
    assert len(rows) == 2 * CONTEXTS
    assert all(r["deferred"] and r["activated_at"] is None for r in rows)
    # A suggestion ranked after them, never voted on: once it is learned (default reward, after the 5 s
    # window), the trainer has settled every earlier event, the Home tab's included.
    url = fake_slack.response_url("sentinel")
    home_app.command("salty night", url, user="U3SENTINEL")
    fake_slack.wait_for_responses("sentinel")
    sentinel = _events_of(home_db, "U3SENTINEL")[0]["event_id"]
    deadline = time.monotonic() + 60
    while store.get_event(home_db, sentinel)["state"] != store.LEARNED:
        assert time.monotonic() < deadline, "the trainer never learned the sentinel"
        time.sleep(0.5)  # waiting for the reward window to close, not timing anything
    rows = _events_of(home_db, reader)
    assert {r["state"] for r in rows} == {store.NEVER_LEARNED}
    assert all(
        r["learned_value"] is None and r["activated_at"] is None and r["reward_count"] == 0 for r in rows
    )


def _events_of(engine: Engine, user: str) -> list[dict[str, Any]]:
    """Every logged event whose context is this user's."""
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(store.events))]
    return [r for r in rows if {"user": user} in json.loads(r["context"])]

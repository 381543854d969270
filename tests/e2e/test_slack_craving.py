"""The craving counts from the first suggestion, on a fresh database, with a menu the app has never seen."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from slack_fakes import REPO, FakeSlack, RunningApp, app_environment, start_app
from sqlalchemy import Engine

from blocks import ids
from bot.db import create_database_engine
from bot.personalizer.local import store

MENU = """\
dishes:
  - {id: churros, features: [{taste: sweet, fried: true}]}
  - {id: mochi, features: [{cuisine: japanese}, {taste: Sweet}]}
  - {id: baklava, features: [{taste: sweet, nuts: true}]}
  - {id: lemonade, excluded: true, features: [{taste: sweet}, {drink: true}]}
  - {id: fries, features: [{taste: salty, fried: true}]}
  - {id: pretzel, features: [{taste: salty}]}
  - {id: olives, features: [{taste: salty, cuisine: greek}]}
  - {id: plain rice, features: [{grain: rice}]}
"""
SWEET = {"churros", "mochi", "baklava"}
SALTY = {"fries", "pretzel", "olives"}
EVERY_DISH = SWEET | SALTY | {"lemonade", "plain rice"}
ROUNDS = 12  # per craving; with 3 fitting dishes of 7, ignoring the craving would miss it about 8 times


@pytest.fixture(scope="module")
def craving_app(fake_slack: FakeSlack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    """The app on an empty database with the menu above in MENU_FILE."""
    workdir = tmp_path_factory.mktemp("craving")
    menu = workdir / "dinner.yaml"
    menu.write_text(MENU)
    app = start_app(app_environment(fake_slack, workdir, MENU_FILE=str(menu)), workdir)
    yield app
    app.stop()


@pytest.fixture(scope="module")
def craving_db(craving_app: RunningApp) -> Iterator[Engine]:
    engine = create_database_engine(craving_app.database_url)
    yield engine
    engine.dispose()


def _suggestion(fake: FakeSlack, app: RunningApp, name: str, text: str, user: str) -> dict[str, Any]:
    assert app.command(text, fake.response_url(name), user=user).status_code == 200
    return fake.wait_for_responses(name)[0]


def _event_id(message: dict[str, Any]) -> str:
    block = next(b for b in message["blocks"] if b.get("block_id") == ids.VOTE_BLOCK)
    return block["elements"][0]["value"]


@pytest.mark.parametrize(("taste", "fitting"), [("sweet", SWEET), ("salty", SALTY)])
def test_every_suggestion_fits_the_craving_from_the_first_one(
    craving_app: RunningApp, fake_slack: FakeSlack, craving_db: Engine, taste: str, fitting: set[str]
) -> None:
    for round_number in range(ROUNDS):
        user = f"U{taste.upper()}{round_number}"  # a new person each time: nothing learned about them
        message = _suggestion(
            fake_slack, craving_app, f"craving-{taste}-{round_number}", f"{taste} night", user
        )
        event = store.get_event(craving_db, _event_id(message))
        assert event["chosen_id"] in fitting, f"round {round_number}: {event['chosen_id']} for {taste}"
        excluded = set(json.loads(event["excluded"]))
        assert excluded == EVERY_DISH - fitting  # the menu's lemonade, the other taste, the untasted rice
        assert message["blocks"][0]["text"]["text"] == f"How about {event['chosen_id']}?"
        text = json.dumps(message["blocks"])
        assert not any(dish in text for dish in excluded - {event["chosen_id"]})


def test_the_shipped_menu_honours_the_craving_too(
    slack_app: RunningApp, fake_slack: FakeSlack, learner_db: Engine
) -> None:
    sweet = {"ice cream", "pad thai", "teriyaki salmon", "pancakes", "apple pie"}
    for round_number in range(6):
        name, user = f"shipped-sweet-{round_number}", f"UNEW{round_number}"
        message = _suggestion(fake_slack, slack_app, name, "sweet morning", user)
        assert store.get_event(learner_db, _event_id(message))["chosen_id"] in sweet


def test_the_console_ranks_within_the_craving_and_prints_as_the_quickstart(tmp_path: Path) -> None:
    menu = tmp_path / "dinner.yaml"
    menu.write_text(MENU)
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    env.update(MENU_FILE=str(menu), DATABASE_URL=f"sqlite:///{tmp_path / 'console.db'}")
    rounds = 6
    stdin = "".join("2\n3\ny\nc\n" for _ in range(rounds - 1)) + "2\n3\ny\nq\n"  # sweet, evening, each time
    result = subprocess.run(
        [sys.executable, str(REPO / "app.py"), "console"],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    picks = re.findall(r"^Personalizer thinks you would like to have (.+)\.$", result.stdout, re.M)
    assert len(picks) == rounds and set(picks) <= SWEET
    ranked = re.findall(r"^(.+) : ([0-9.e-]+)$", result.stdout, re.M)  # the quickstart's `print(id, ':', p)`
    assert {dish for dish, _ in ranked} == EVERY_DISH
    assert all(float(p) == 0.0 for dish, p in ranked if dish not in SWEET)

"""`python app.py` as a process: configuration errors, auto mode and the terminal conversation."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from slack_fakes import REPO, REVOKED_TOKEN, FakeSlack, app_environment, start_app
from sqlalchemy import select

from bot.db import create_database_engine
from bot.personalizer.local import store


def _run(
    args: list[str], env: dict[str, str], cwd: Path, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    base = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    return subprocess.run(
        [sys.executable, str(REPO / "app.py"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**base, "PERSONALIZER_MODEL_UPDATE_FREQUENCY": "1", **env},
        timeout=60,
    )


def test_bot_without_slack_settings_exits_2_naming_each_variable(tmp_path: Path) -> None:
    result = _run([], {}, tmp_path)
    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN is not set" in result.stderr
    assert "SLACK_SIGNING_SECRET is not set" in result.stderr


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "PORT": "eighty", "PERSONALIZER_BACKEND": "azure"}
    result = _run([], env, tmp_path)
    assert result.returncode == 2
    for problem in ("SLACK_SIGNING_SECRET", "PORT='eighty'", "PERSONALIZER_ENDPOINT", "PERSONALIZER_KEY"):
        assert problem in result.stderr


def test_env_file_in_the_working_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SLACK_BOT_TOKEN=xoxb-from-dotenv\nPORT=not-a-port\n")
    result = _run([], {}, tmp_path)
    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN" not in result.stderr  # came from .env
    assert "PORT='not-a-port'" in result.stderr


def test_unknown_mode_exits_2(tmp_path: Path) -> None:
    result = _run(["dance"], {}, tmp_path)
    assert result.returncode == 2 and "usage" in result.stderr


def test_invalid_menu_exits_2_naming_file_entry_and_field(tmp_path: Path) -> None:
    menu = tmp_path / "menu.yaml"
    menu.write_text("dishes:\n  - id: soup\n    features: [{taste: [hot]}]\n")
    result = _run(["console"], {"MENU_FILE": str(menu)}, tmp_path)
    assert result.returncode == 2
    assert str(menu) in result.stderr and "'soup'" in result.stderr and "features[0].taste" in result.stderr


def test_auto_without_slack_says_how_to_connect_then_runs_the_console(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'console.db'}"
    result = _run(["auto"], {"DATABASE_URL": database_url}, tmp_path, stdin="2\n3\ny\nc\n1\n4\nn\nq\n")
    assert result.returncode == 0, result.stderr
    hint = [line for line in result.stderr.splitlines() if "README" in line]
    assert len(hint) == 1 and "SLACK_BOT_TOKEN" in hint[0]
    assert "Personalizer service ranked the actions with the probabilities listed below:" in result.stdout
    assert "juice : 0.0" in result.stdout
    assert "Personalizer thinks you would like to have " in result.stdout
    engine = create_database_engine(database_url)
    with engine.connect() as conn:
        events = {row.event_id: json.loads(row.context) for row in conn.execute(select(store.events))}
        rewards = {row.event_id: row.value for row in conn.execute(select(store.rewards))}
    engine.dispose()
    by_context = {(c[0]["taste_preference"], c[1]["time_of_day"]): rewards[e] for e, c in events.items()}
    assert by_context == {("sweet", "evening"): 1.0, ("salty", "night"): 0.0}


def test_console_handles_invalid_input_as_the_quickstart_does_and_stops_at_end_of_input(
    tmp_path: Path,
) -> None:
    result = _run(["console"], {}, tmp_path, stdin="7\nabc\nmaybe\n\n1\n")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Entered value is invalid. Setting feature value to salty." in out
    assert "Entered value is invalid. Setting feature value to morning." in out
    assert (
        "Entered choice is invalid. Service assumes that you didn't like the recommended food choice." in out
    )
    assert "Traceback" not in result.stderr


def test_with_an_app_token_the_bot_connects_over_socket_mode_instead_of_serving_http(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    env = app_environment(fake_slack, tmp_path, SLACK_APP_TOKEN="xapp-1-A0FAKE-1-socket")
    process = subprocess.Popen(
        [sys.executable, str(REPO / "app.py")], cwd=tmp_path, env=env, stderr=subprocess.PIPE
    )
    try:
        calls = fake_slack.wait(
            lambda: [
                c
                for c in fake_slack.api_calls("apps.connections.open")
                if "socket" in c.get("_authorization", "")
            ],
            1,
            30,
            "apps.connections.open",
        )
        assert calls[0]["_authorization"] == "Bearer xapp-1-A0FAKE-1-socket"
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{env['PORT']}/healthz", timeout=2)
    finally:
        process.kill()
        process.communicate()


def test_a_token_slack_refuses_stops_the_bot_with_a_message(fake_slack: FakeSlack, tmp_path: Path) -> None:
    env = app_environment(fake_slack, tmp_path, SLACK_BOT_TOKEN=REVOKED_TOKEN)
    result = subprocess.run(
        [sys.executable, str(REPO / "app.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "Slack refused the bot token" in result.stderr and "invalid_auth" in result.stderr
    assert REVOKED_TOKEN not in result.stderr


def test_sigterm_stops_the_http_bot_cleanly_after_finishing_acked_work(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    app = start_app(app_environment(fake_slack, tmp_path), tmp_path)
    url = fake_slack.response_url("sigterm")
    assert app.command("sweet night", url).status_code == 200
    app.process.send_signal(signal.SIGTERM)
    assert app.process.wait(timeout=20) in (0, -signal.SIGTERM)  # uvicorn re-raises SIGTERM once stopped
    assert len(fake_slack.responses("sigterm")) == 1  # the acked suggestion was still delivered
    log = app.log()
    assert "bot.slack_server: stopped" in log and "Traceback" not in log

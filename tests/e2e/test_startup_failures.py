"""`python app.py` refusing to start: one or two plain lines naming the setting to check, never a traceback."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from slack_fakes import REPO, REVOKED_TOKEN, FakeSlack, app_environment, free_port
from socket_mode_app import REVOKED_APP_TOKEN, SocketModeSlack
from sqlalchemy.engine import make_url

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR) [\w.]+: ")


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "app.py"), *args],
        input="",
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=60,
    )


def _console_env(**settings: str) -> dict[str, str]:
    base = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    return {**base, **settings}


def _plain(result: subprocess.CompletedProcess[str], *names: str) -> list[str]:
    """What stderr ends in: one or two plain lines naming each of `names`, after nothing but log lines."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    message = [line for line in lines if not LOG_LINE.match(line)]
    assert 1 <= len(message) <= 2 and lines[-len(message) :] == message, result.stderr
    for name in names:
        assert name in "\n".join(message), result.stderr
    return message


def test_slack_unreachable_names_slack_api_url(fake_slack: FakeSlack, tmp_path: Path) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}/api/"
    result = _run([], app_environment(fake_slack, tmp_path, SLACK_API_URL=nowhere), tmp_path)
    assert result.returncode == 1
    _plain(result, "SLACK_API_URL", nowhere, "could not reach Slack")


def test_a_slack_api_url_that_is_not_slack_names_slack_api_url(fake_slack: FakeSlack, tmp_path: Path) -> None:
    with _NotSlack() as not_slack:  # answers, but a web page, not the Web API
        result = _run([], app_environment(fake_slack, tmp_path, SLACK_API_URL=not_slack), tmp_path)
    assert result.returncode == 1
    _plain(result, "SLACK_API_URL")


class _NotSlack:
    """An HTTP server on loopback answering every request with a 404 page, as a mistyped URL would."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                page = b"<html><body>Not Found</body></html>"
                self.send_response(404)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/"

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_refused_bot_token_names_slack_bot_token(fake_slack: FakeSlack, tmp_path: Path) -> None:
    result = _run([], app_environment(fake_slack, tmp_path, SLACK_BOT_TOKEN=REVOKED_TOKEN), tmp_path)
    assert result.returncode == 1
    _plain(result, "SLACK_BOT_TOKEN", "invalid_auth")
    assert REVOKED_TOKEN not in result.stderr


def test_a_refused_app_token_names_slack_app_token(tmp_path: Path) -> None:
    with SocketModeSlack() as slack:
        env = app_environment(slack, tmp_path, SLACK_APP_TOKEN=REVOKED_APP_TOKEN)
        result = _run([], env, tmp_path)
    assert result.returncode == 1
    _plain(result, "SLACK_APP_TOKEN", "invalid_auth")
    assert REVOKED_APP_TOKEN not in result.stderr


@pytest.mark.parametrize("mode", ["console", "bot"])
def test_a_database_that_cannot_be_reached_names_database_url(
    fake_slack: FakeSlack, tmp_path: Path, mode: str
) -> None:
    url = f"postgresql://nobody:secret-pw@127.0.0.1:{free_port()}/dinner"
    env = app_environment(fake_slack, tmp_path, DATABASE_URL=url) if mode == "bot" else _console_env()
    env["DATABASE_URL"] = url
    result = _run([mode], env, tmp_path)
    assert result.returncode == 2
    _plain(result, "DATABASE_URL", "127.0.0.1")
    assert "secret-pw" not in result.stderr


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql://dinner:secret-pw@127.0.0.1/dinner", "not installed"),
        ("oracle+nosuchdriver://dinner@127.0.0.1/dinner", "not a database this app supports"),
        ("dinnerdb://127.0.0.1/dinner", "not a database this app supports"),
    ],
)
def test_a_database_url_naming_a_dialect_that_is_not_installed_names_database_url(
    tmp_path: Path, url: str, says: str
) -> None:
    result = _run(["console"], _console_env(DATABASE_URL=url), tmp_path)
    assert result.returncode == 2
    _plain(result, "DATABASE_URL", says)
    assert "secret-pw" not in result.stderr


def test_a_read_only_database_names_database_url(tmp_path: Path) -> None:
    database = tmp_path / "dinner.db"
    sqlite3.connect(database).close()
    # SQLite's own read-only mode: what a file without write permission gives, even when run as root.
    url = f"sqlite:///file:{database}?mode=ro&uri=true"
    result = _run(["console"], _console_env(DATABASE_URL=url), tmp_path)
    assert result.returncode == 2
    _plain(result, "DATABASE_URL", "read-only")


def test_a_database_file_in_a_folder_that_cannot_be_made_names_database_url(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    url = f"sqlite:///{blocker / 'dinner.db'}"
    result = _run(["console"], _console_env(DATABASE_URL=url), tmp_path)
    assert result.returncode == 2
    _plain(result, "DATABASE_URL", "cannot create the database's folder")


@pytest.mark.postgres
def test_a_read_only_postgresql_database_names_database_url(
    tmp_path: Path, fresh_database: Callable[[str], str]
) -> None:
    url = make_url(fresh_database("postgresql"))
    read_only = url.update_query_dict({"options": "-c default_transaction_read_only=on"})
    result = _run(["console"], _console_env(DATABASE_URL=read_only.render_as_string(False)), tmp_path)
    assert result.returncode == 2
    _plain(result, "DATABASE_URL", "read-only")
    if url.password:
        assert url.password not in result.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only files")
def test_a_database_file_without_write_permission_names_database_url(tmp_path: Path) -> None:
    database = tmp_path / "dinner.db"
    sqlite3.connect(database).close()
    database.chmod(0o444)
    result = _run(["console"], _console_env(DATABASE_URL=f"sqlite:///{database}"), tmp_path)
    assert result.returncode == 2
    _plain(result, "DATABASE_URL", "read-only")


def test_a_broken_menu_file_names_menu_file(tmp_path: Path) -> None:
    menu = tmp_path / "menu.yaml"
    menu.write_text("dishes:\n  - id: soup\n    features: [{taste: [hot]}]\n")
    result = _run(["console"], _console_env(MENU_FILE=str(menu)), tmp_path)
    assert result.returncode == 2
    _plain(result, "MENU_FILE", str(menu), "'soup'")


def test_a_menu_file_that_is_not_yaml_names_menu_file(tmp_path: Path) -> None:
    menu = tmp_path / "menu.yaml"
    menu.write_text("dishes: [soup\n")
    result = _run(["console"], _console_env(MENU_FILE=str(menu)), tmp_path)
    assert result.returncode == 2
    _plain(result, "MENU_FILE", str(menu))


@pytest.mark.parametrize(
    ("dotenv", "missing"),
    [
        ("SLACK_BOT_TOKEN=xoxb-from-dotenv\n", "SLACK_SIGNING_SECRET"),
        ("SLACK_SIGNING_SECRET=from-dotenv\n", "SLACK_BOT_TOKEN"),
        ("SLACK_APP_TOKEN=xapp-1-A0FAKE-1-dotenv\n", "SLACK_BOT_TOKEN"),
    ],
)
def test_half_configured_slack_in_auto_mode_names_the_missing_variable(
    tmp_path: Path, dotenv: str, missing: str
) -> None:
    (tmp_path / ".env").write_text(dotenv)
    result = _run(["auto"], _console_env(), tmp_path)
    assert result.returncode == 2
    assert f"{missing} is not set" in result.stderr
    assert "Traceback" not in result.stderr
    assert "What type of food" not in result.stdout  # the console did not start


def test_a_working_bot_says_nothing_about_an_unused_token(fake_slack: FakeSlack, tmp_path: Path) -> None:
    env = app_environment(fake_slack, tmp_path)
    process = subprocess.Popen(
        [sys.executable, str(REPO / "app.py")], cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        fake_slack.wait_for_api("auth.test", 1, 30)
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=20)
    assert "will be unused" not in stderr
    assert "Traceback" not in stderr

"""`python app.py personalizer` refusing to start on its database: exit 2 and one plain line naming
DATABASE_URL (password hidden), never a traceback; the bot's own behaviour (tests/e2e/test_startup_failures.py)."""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[2]
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR) [\w.]+: ")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _service(database_url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    env.update(DATABASE_URL=database_url, PERSONALIZER_KEY="a-key", PORT=str(_free_port()), HOST="127.0.0.1")
    return subprocess.run(
        [sys.executable, str(REPO / "app.py"), "personalizer"],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=60,
    )


def _one_line(result: subprocess.CompletedProcess[str], *says: str) -> str:
    """Exit 2, and stderr ends in one plain line (after log lines only) that says each of `says`."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    plain = [line for line in lines if not LOG_LINE.match(line)]
    assert len(plain) == 1 and lines[-1] == plain[0], result.stderr
    for words in ("DATABASE_URL", *says):
        assert words in plain[0], result.stderr
    return plain[0]


def test_an_unreachable_postgresql_names_database_url(tmp_path: Path) -> None:
    result = _service(f"postgresql://nobody:secret-pw@127.0.0.1:{_free_port()}/dinner", tmp_path)
    _one_line(result, "127.0.0.1")
    assert "secret-pw" not in result.stderr


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql://dinner:secret-pw@127.0.0.1/dinner", "not installed"),
        ("dinnerdb://127.0.0.1/dinner", "not a database this app supports"),
    ],
)
def test_an_unsupported_driver_names_database_url(tmp_path: Path, url: str, says: str) -> None:
    result = _service(url, tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and says in result.stderr and "DATABASE_URL" in result.stderr
    assert "secret-pw" not in result.stderr


def test_a_read_only_sqlite_database_names_database_url(tmp_path: Path) -> None:
    database = tmp_path / "pz.db"
    sqlite3.connect(database).close()
    # SQLite's own read-only mode: what a file without write permission gives, even when run as root.
    _one_line(_service(f"sqlite:///file:{database}?mode=ro&uri=true", tmp_path), "read-only")


def test_a_sqlite_file_whose_folder_cannot_be_made_names_database_url(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    _one_line(_service(f"sqlite:///{blocker / 'pz.db'}", tmp_path), "not-a-folder")


@pytest.mark.postgres
def test_a_read_only_postgresql_names_database_url(
    tmp_path: Path, fresh_database: Callable[[str], str]
) -> None:
    url = make_url(fresh_database("postgresql"))
    read_only = url.update_query_dict({"options": "-c default_transaction_read_only=on"})
    result = _service(read_only.render_as_string(hide_password=False), tmp_path)
    _one_line(result, "read-only")
    if url.password:
        assert url.password not in result.stderr

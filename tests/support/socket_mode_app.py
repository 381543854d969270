"""The fake Slack for Socket Mode: apps.connections.open hands out the mock server's URL; and envelopes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from slack_fakes import REPO, FakeSlack, command_body
from socket_mode_server import MockSocketModeServer, envelope

APP_TOKEN = "xapp-1-A0FAKE-1-socket"
REVOKED_APP_TOKEN = "xapp-1-A0FAKE-1-revoked"  # apps.connections.open refuses this one


class SocketModeSlack(FakeSlack):
    """FakeSlack whose apps.connections.open answers with `socket_url` (or refuses REVOKED_APP_TOKEN)."""

    def __init__(self, socket_url: str = "") -> None:
        super().__init__()
        self.socket_url = socket_url

    def _reply(self, kind: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        if kind == "api" and name == "apps.connections.open":
            if body.get("_authorization") == f"Bearer {REVOKED_APP_TOKEN}":
                return {"ok": False, "error": "invalid_auth"}
            if not self.socket_url:
                return {"ok": False, "error": "no mock Socket Mode server"}
            return {"ok": True, "url": self.socket_url}
        return super()._reply(kind, name, body)


def slash_command(text: str, response_url: str, user: str = "U1ALICE") -> dict[str, Any]:
    """A `slash_commands` envelope for /whatsfordinner, with the fields Slack sends over HTTP."""
    return envelope("slash_commands", dict(parse_qsl(command_body(text, response_url, user))))


def interactive(payload: dict[str, Any]) -> dict[str, Any]:
    """An `interactive` envelope (block_actions and the like)."""
    return envelope("interactive", payload, accepts_response_payload=False)


def events_api(event: dict[str, Any]) -> dict[str, Any]:
    """An `events_api` envelope carrying one event_callback."""
    payload = {
        "token": "legacy",
        "team_id": "T0FAKE",
        "api_app_id": "A0FAKE",
        "event": event,
        "type": "event_callback",
        "event_id": f"Ev{time.time_ns()}",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": "T0FAKE", "user_id": "U0BOT", "is_bot": True}],
    }
    return envelope("events_api", payload, accepts_response_payload=False)


@dataclass
class SocketModeApp:
    """`python app.py` connected over Socket Mode to the mock server."""

    process: subprocess.Popen[bytes]
    server: MockSocketModeServer
    log_path: Path

    def log(self) -> str:
        """What the app wrote to stderr/stdout."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def cpu_seconds(self) -> float:
        """CPU time the app process has used so far (user + system, all threads)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        """SIGTERM, then kill if it lingers."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_socket_mode_app(env: dict[str, str], server: MockSocketModeServer, workdir: Path) -> SocketModeApp:
    """Start `python app.py` with SLACK_APP_TOKEN set and wait for its first connection to the mock server."""
    log_path = workdir / "app.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(REPO / "app.py")], cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    app = SocketModeApp(process, server, log_path)
    try:
        server.wait_for_link(timeout=60)
    except AssertionError:
        app.stop()
        raise AssertionError(f"app.py never connected over Socket Mode:\n{app.log()}") from None
    return app

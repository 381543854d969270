"""`python app.py personalizer` as a process for the hostile-input tests, and a bystander that checks it still serves."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[2]
KEY = "hostile-service-key"
HEADERS = {"Ocp-Apim-Subscription-Key": KEY, "Content-Type": "application/json"}
PREFIX = "/personalizer/v1.0"
MENU = [
    {"id": "pasta", "features": [{"taste": "salty", "spice": "medium"}]},
    {"id": "salad", "features": [{"taste": "sour", "spice": "none"}]},
    {"id": "curry", "features": [{"taste": "spicy", "spice": "hot"}]},
]


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Service:
    """One service process on loopback; `url` is its base, `database_url` its log."""

    def __init__(self, database_url: str, preexec: Callable[[], None] | None = None, **env: str) -> None:
        self.database_url = database_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"pz-hostile-{uuid.uuid4().hex}.log"
        environment = {k: v for k, v in os.environ.items() if not k.startswith("PERSONALIZER_")}
        environment.update(
            {
                "PERSONALIZER_KEY": KEY,
                "PORT": str(self.port),
                "HOST": "127.0.0.1",
                "DATABASE_URL": database_url,
                "PERSONALIZER_MODEL_UPDATE_FREQUENCY": "PT1S",
            }
        )
        environment.update(env)
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "app.py", "personalizer"],
            cwd=ROOT,
            env={k: v for k, v in environment.items() if v != ""},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=preexec,
        )

    def wait_healthy(self, timeout: float = 30) -> None:
        """Until /healthz answers 200; fails with the log if the process exits first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log()
            try:
                if requests.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise AssertionError(f"the service did not become healthy:\n{self.log()}")

    def log(self) -> str:
        """Everything the process wrote so far."""
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def post(
        self, path: str, body: Any = None, *, raw: bytes | None = None, timeout: float = 15
    ) -> requests.Response:
        """POST JSON (or raw bytes) to a path under /personalizer/v1.0."""
        data = raw if raw is not None else json.dumps(body).encode()
        return requests.post(f"{self.url}{PREFIX}{path}", data=data, headers=HEADERS, timeout=timeout)

    def call(
        self, method: str, path: str, *, raw: bytes | None = None, timeout: float = 15
    ) -> requests.Response:
        """Any method on a path under /personalizer/v1.0."""
        return requests.request(
            method, f"{self.url}{PREFIX}{path}", data=raw, headers=HEADERS, timeout=timeout
        )

    def health(self) -> requests.Response:
        """GET /healthz."""
        return requests.get(f"{self.url}/healthz", timeout=5)

    def stop(self) -> str:
        """SIGTERM (SIGKILL after 15 s); returns the log."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        text = self.log_path.read_text(errors="replace")
        self.log_path.unlink(missing_ok=True)
        return text

    def kill(self) -> None:
        """SIGKILL, as a crash."""
        self.process.kill()
        self.process.wait()


def rank_body(event_id: str | None = None, menu: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A normal rank request."""
    body: dict[str, Any] = {"contextFeatures": [{"time": "evening"}], "actions": menu or MENU}
    if event_id is not None:
        body["eventId"] = event_id
    return body


def bystander_pairs(service: Service, count: int = 20, within: float = 1.0) -> list[str]:
    """`count` normal rank+reward pairs, each answered within `within` seconds; returns their event IDs."""
    served = []
    for _ in range(count):
        event_id = uuid.uuid4().hex
        started = time.monotonic()
        rank = service.post("/rank", rank_body(event_id), timeout=within + 10)
        reward = service.post(f"/events/{event_id}/reward", {"value": 1}, timeout=within + 10)
        took = time.monotonic() - started
        assert rank.status_code == 201, rank.text
        assert reward.status_code == 204, reward.text
        assert took < within, f"a bystander's rank+reward took {took:.2f} s"
        served.append(event_id)
    return served


def stored_rewards(database_url: str, event_ids: list[str]) -> dict[str, int]:
    """How many rewards the log holds for each of these events (read from the database itself)."""
    from sqlalchemy import bindparam, text

    from bot.db import create_database_engine

    engine = create_database_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT event_id, COUNT(*) FROM pz_rewards WHERE event_id IN :ids GROUP BY event_id"
                ).bindparams(bindparam("ids", expanding=True)),
                {"ids": event_ids},
            ).all()
    finally:
        engine.dispose()
    return {row[0]: row[1] for row in rows}

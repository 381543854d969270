"""A fake Slack on 127.0.0.1 (Web API + response_url sink) and a launcher for the real app, signed like Slack.

Shared by the end-to-end tests and bench/bench_slack.py.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import requests
from slack_sdk.signature import SignatureVerifier

from blocks import ids

REPO = Path(__file__).resolve().parents[2]
SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-token"
_message_counter = itertools.count()
REVOKED_TOKEN = "xoxb-revoked-token"  # auth.test refuses this one
DRIP_BYTES = 400  # the length of a dripped answer


@dataclass
class Call:
    """One request that reached the fake: a Web API method or a response_url post."""

    kind: str  # "api" or "respond"; "held" for an arrival the fake delays or drips (name "respond/<name>");
    # "cut" for a dripping answer the client hung up on
    name: str  # API method (users.info) or response_url name
    body: dict[str, Any]
    at: float = field(default_factory=time.perf_counter)


class FakeSlack:
    """Slack's Web API and response_url endpoints on loopback; records every call."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._by_name: dict[tuple[str, str], list[Call]] = {}
        self.tz_offset = 0
        # Seconds to wait before answering, by "respond/<name>", "api/<method>" or "api/users.info/<user>":
        # a slow or hanging Slack endpoint. Released at once when the fake stops.
        self.delays: dict[str, float] = {}
        # Seconds between bytes, by the same keys: the answer's headers at once, then its body (DRIP_BYTES)
        # a byte at a time. Each byte comes well within any socket timeout; the whole takes minutes.
        self.drips: dict[str, float] = {}
        self._released = threading.Event()
        self._changed = threading.Condition()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = _parse_body(raw, self.headers.get("Content-Type", ""))
                if self.headers.get("Authorization"):
                    body["_authorization"] = self.headers["Authorization"]
                kind, _, name = self.path.strip("/").partition("/")
                if interval := fake._delay(kind, name, body, fake.drips):
                    fake._drip(self, kind, name, body, interval)
                    return
                if delay := fake._delay(kind, name, body):
                    fake._record(Call("held", f"{kind}/{name}", body))  # arrived; answered only later
                    if fake._released.wait(delay):
                        return  # the fake is stopping: drop the connection unanswered
                reply = fake._reply(kind, name, body)
                data = json.dumps(reply).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    return  # the app gave up waiting (a delayed answer): nothing reached it
                fake._record(Call("api" if kind == "api" else "respond", name, body))

            def log_message(self, *args: Any) -> None:
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeSlack:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._released.set()
        self.server.shutdown()
        self.server.server_close()

    @property
    def api_url(self) -> str:
        """SLACK_API_URL for the app (with the trailing slash WebClient needs)."""
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, name: str) -> str:
        """A response_url whose posts are recorded under `name`."""
        return f"http://127.0.0.1:{self.port}/respond/{name}"

    def responses(self, name: str) -> list[dict[str, Any]]:
        """What reached response_url `name`, oldest first."""
        with self._changed:
            return [c.body for c in self._by_name.get(("respond", name), [])]

    def response_calls(self, name: str) -> list[Call]:
        """The posts to response_url `name` with their arrival times."""
        with self._changed:
            return list(self._by_name.get(("respond", name), []))

    def held(self, path: str) -> int:
        """How many requests for "respond/<name>" or "api/<method>" arrived at a delayed endpoint."""
        with self._changed:
            return len(self._by_name.get(("held", path), []))

    def api_calls(self, method: str) -> list[dict[str, Any]]:
        """Arguments of every call to a Web API method."""
        with self._changed:
            return [c.body for c in self._by_name.get(("api", method), [])]

    def wait_for_responses(self, name: str, count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Block until `count` posts reached response_url `name`; AssertionError at the deadline."""
        return self.wait(lambda: self.responses(name), count, timeout, f"response_url {name}")

    def wait_for_api(self, method: str, count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Block until `method` was called `count` times."""
        return self.wait(lambda: self.api_calls(method), count, timeout, method)

    def wait(
        self, get: Callable[[], list[Any]], count: int, timeout: float, what: str, poll: float | None = None
    ) -> list[Any]:
        """Wait on the recorder until get() has `count` items; `poll` also re-checks that often (for logs)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(found := get()) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{what}: {len(found)} of {count} calls after {timeout}s: {found}")
                self._changed.wait(left if poll is None else min(left, poll))
            return found

    def _record(self, call: Call) -> None:
        with self._changed:
            self.calls.append(call)
            self._by_name.setdefault((call.kind, call.name), []).append(call)
            self._changed.notify_all()

    def _delay(
        self, kind: str, name: str, body: dict[str, Any], table: dict[str, float] | None = None
    ) -> float:
        keys = [f"{kind}/{name}", f"{kind}/{name}/{body.get('user', '')}"]
        table = self.delays if table is None else table
        return max((table.get(key, 0.0) for key in keys), default=0.0)

    def _drip(
        self, handler: BaseHTTPRequestHandler, kind: str, name: str, body: dict[str, Any], every: float
    ) -> None:
        """Answer 200 with a DRIP_BYTES body, a byte every `every` s; record "cut" if the client hangs up."""
        arrived = time.perf_counter()
        self._record(Call("held", f"{kind}/{name}", body))
        reply = json.dumps({**self._reply(kind, name, body), "pad": ""}).encode()
        data = reply[:-2] + b" " * (DRIP_BYTES - len(reply)) + reply[-2:]
        sent = 0
        try:
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.flush()
            for sent in range(len(data)):
                handler.wfile.write(data[sent : sent + 1])
                handler.wfile.flush()
                if self._released.wait(every):
                    return
        except (BrokenPipeError, ConnectionResetError):
            cut = {"seconds": time.perf_counter() - arrived, "sent": sent}
            self._record(Call("cut", f"{kind}/{name}", cut))
            return
        self._record(Call("api" if kind == "api" else "respond", name, body))

    def cuts(self, path: str) -> list[dict[str, Any]]:
        """The dripping answers for "respond/<name>" or "api/<method>" the client hung up on: when, how far."""
        with self._changed:
            return [c.body for c in self._by_name.get(("cut", path), [])]

    def _reply(self, kind: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        if kind != "api":
            return {"ok": True}
        if name == "auth.test":
            if body.get("_authorization") == f"Bearer {REVOKED_TOKEN}":
                return {"ok": False, "error": "invalid_auth"}
            return {
                "ok": True,
                "url": "https://fake.slack.com/",
                "team": "Fake",
                "user": "whatsfordinner",
                "team_id": "T0FAKE",
                "user_id": "U0BOT",
                "bot_id": "B0BOT",
            }
        if name == "users.info":
            user = body.get("user", "U0")
            return {"ok": True, "user": {"id": user, "tz": "Etc/Fake", "tz_offset": self.tz_offset}}
        if name == "apps.connections.open":  # Socket Mode: a WebSocket URL where nothing listens
            return {"ok": True, "url": f"ws://127.0.0.1:{free_port()}/link"}
        if name == "views.publish":
            return {"ok": True, "view": {"id": "V0FAKE"}}
        return {"ok": True}


class _Server(ThreadingHTTPServer):
    # socketserver's default backlog of 5 drops connections under 20 concurrent posts, and the client's
    # SYN retry then adds a whole second: that would be the fake's latency, not the app's.
    request_queue_size = 256


def _parse_body(raw: bytes, content_type: str) -> dict[str, Any]:
    text = raw.decode("utf-8", "replace")
    if "json" in content_type:
        return json.loads(text or "{}")
    return dict(parse_qsl(text))


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sign(body: str, timestamp: int | None = None, secret: str = SIGNING_SECRET) -> dict[str, str]:
    """Slack's signature headers for a raw body."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded",
    }


@dataclass
class RunningApp:
    """`python app.py` serving HTTP on loopback, and how to talk to it like Slack does."""

    process: subprocess.Popen[bytes]
    base_url: str
    database_url: str
    log_path: Path
    session: requests.Session = field(default_factory=requests.Session)

    def post(self, body: str, headers: Mapping[str, str] | None = None) -> requests.Response:
        """POST a raw body to /slack/events, signed unless headers are given."""
        return self.session.post(
            f"{self.base_url}/slack/events",
            data=body.encode(),
            headers=dict(headers or sign(body)),
            timeout=10,
        )

    def command(self, text: str, response_url: str, user: str = "U1ALICE") -> requests.Response:
        """A signed /whatsfordinner slash command."""
        return self.post(command_body(text, response_url, user))

    def action(self, payload: dict[str, Any]) -> requests.Response:
        """A signed interactivity payload."""
        return self.post(urlencode({"payload": json.dumps(payload)}))

    def healthy(self) -> bool:
        """True when GET /healthz answers 200."""
        try:
            return self.session.get(f"{self.base_url}/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def log(self) -> str:
        """What the app wrote to stderr/stdout."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        """Terminate the app and wait for it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.session.close()


def command_body(text: str, response_url: str, user: str = "U1ALICE") -> str:
    """The form body Slack posts for /whatsfordinner."""
    return urlencode(
        {
            "token": "legacy",
            "team_id": "T0FAKE",
            "team_domain": "fake",
            "channel_id": "C0DINNER",
            "channel_name": "dinner",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/whatsfordinner",
            "text": text,
            "api_app_id": "A0FAKE",
            "response_url": response_url,
            "trigger_id": "1.2.3",
        }
    )


def app_environment(fake: FakeSlack, workdir: Path, **overrides: str) -> dict[str, str]:
    """A clean environment for the app: only what production would set, pointed at the fakes."""
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "SYSTEMROOT") if key in os.environ}
    env.update(
        {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake.api_url,
            "HOST": "127.0.0.1",
            "PORT": str(free_port()),
            "DATABASE_URL": f"sqlite:///{workdir / 'app.db'}",
            "PERSONALIZER_MODEL_UPDATE_FREQUENCY": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(overrides)
    return env


def start_app(
    env: dict[str, str],
    workdir: Path,
    args: tuple[str, ...] = (),
    timeout: float = 60.0,
    preexec_fn: Callable[[], None] | None = None,
    repo: Path = REPO,
) -> RunningApp:
    """Start `python app.py` as production does and wait until /healthz answers.

    `preexec_fn` runs in the child before it starts (for instance to lower its resource limits);
    `repo` is the checkout whose app.py runs (a benchmark may compare two).
    """
    log_path = workdir / "app.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, str(repo / "app.py"), *args],
        cwd=workdir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=preexec_fn,
    )
    log.close()
    app = RunningApp(process, f"http://127.0.0.1:{env['PORT']}", env["DATABASE_URL"], log_path)
    deadline = time.monotonic() + timeout
    while not app.healthy():
        if process.poll() is not None:
            raise RuntimeError(f"app.py exited with {process.returncode}:\n{app.log()}")
        if time.monotonic() > deadline:
            app.stop()
            raise RuntimeError(f"app.py did not become healthy in {timeout}s:\n{app.log()}")
        time.sleep(0.05)  # start-up polling only: nothing to be notified by
    return app


def taste_state(taste: str) -> dict[str, Any]:
    """The `state.values` of a suggestion menu where the taste menu is set to `taste`."""
    return {
        ids.MENUS_BLOCK: {ids.TASTE_SELECT: {"type": "static_select", "selected_option": {"value": taste}}}
    }


def block_action(
    action_id: str,
    response_url: str,
    *,
    user: str = "U1ALICE",
    value: str | None = None,
    state: dict[str, Any] | None = None,
    block_id: str = "b",
    message_ts: str | None = None,
) -> dict[str, Any]:
    """A block_actions payload as Slack sends it for a click in an ephemeral message (no `message`).

    Each payload is from a message of its own unless `message_ts` names one.
    """
    action: dict[str, Any] = {
        "action_id": action_id,
        "block_id": block_id,
        "type": "button",
        "action_ts": "1.1",
    }
    if value is not None:
        action["value"] = value
    return {
        "type": "block_actions",
        "team": {"id": "T0FAKE", "domain": "fake"},
        "user": {"id": user, "username": user.lower(), "team_id": "T0FAKE"},
        "api_app_id": "A0FAKE",
        "token": "legacy",
        "container": {
            "type": "message",
            "message_ts": message_ts or f"1700000000.{next(_message_counter):06d}",
            "channel_id": "C0DINNER",
            "is_ephemeral": True,
        },
        "trigger_id": "1.2.3",
        "channel": {"id": "C0DINNER", "name": "dinner"},
        "state": {"values": state or {}},
        "response_url": response_url,
        "actions": [action],
    }

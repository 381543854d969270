"""What the hostile-input tests and bench/bench_attacks_slack.py share: raw sockets, RSS, bystanders."""

from __future__ import annotations

import itertools
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from slack_fakes import FakeSlack, RunningApp, command_body, sign

CHUNK = b"x" * 65536
BYSTANDER_CAP = 15.0  # seconds; a bystander's reply later than this counts as this
_bystander_names = itertools.count()
FORM = "application/x-www-form-urlencoded"


def unsigned(timestamp: str = "", signature: str = "v0=" + "0" * 64) -> dict[str, str]:
    """Headers an attacker can send: any timestamp, a signature made without the secret."""
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature, "Content-Type": FORM}


def hang_replies(
    app: RunningApp, fake: FakeSlack, prefix: str, count: int, hang: float = 60.0, drip: float = 0.0
) -> list[str]:
    """`count` users' slash commands, sent 8 at a time, whose response_urls hang; the answers' statuses.

    With `drip`, the response_urls answer at once but send their body a byte every `drip` seconds.
    """

    def send(i: int) -> str:
        name = f"{prefix}-{i}"
        if drip:
            fake.drips[f"respond/{name}"] = drip
        else:
            fake.delays[f"respond/{name}"] = hang
        body = command_body("salty night", fake.response_url(name), user=f"U{prefix.upper()}{i}")
        try:
            url = f"{app.base_url}/slack/events"
            return str(requests.post(url, data=body.encode(), headers=sign(body), timeout=15).status_code)
        except requests.RequestException as exc:
            return type(exc).__name__

    with ThreadPoolExecutor(8) as clients:
        return list(clients.map(send, range(count)))


def post(app: RunningApp, body: bytes, headers: dict[str, str]) -> str:
    """POST /slack/events; the status as text, or the error's name."""
    try:
        url = f"{app.base_url}/slack/events"
        return str(requests.post(url, data=body, headers=headers, timeout=BYSTANDER_CAP).status_code)
    except requests.RequestException as exc:
        return type(exc).__name__


def rss_mb(pid: int) -> float:
    """Resident memory of process `pid` in MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def address(app: RunningApp) -> tuple[str, int]:
    """(host, port) the app serves on."""
    host, port = app.base_url.removeprefix("http://").split(":")
    return host, int(port)


def send_chunked(app: RunningApp, total_bytes: int, headers: dict[str, str] | None = None) -> tuple[int, int]:
    """POST a chunked body of up to `total_bytes` to /slack/events; (status, bytes sent before the answer).

    Sending stops as soon as the server answers or closes: a server that refuses while the body streams
    has taken only a small part of it.
    """
    lines = [
        "POST /slack/events HTTP/1.1",
        "Host: 127.0.0.1",
        "Transfer-Encoding: chunked",
        "Content-Type: application/x-www-form-urlencoded",
        *(f"{k}: {v}" for k, v in (headers or {}).items()),
    ]
    sent = 0
    with socket.create_connection(address(app), timeout=30) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        sock.setblocking(False)
        answer = b""
        try:
            while sent < total_bytes:
                try:
                    answer += sock.recv(65536)
                    break  # the server answered (or closed) before the body ended
                except BlockingIOError:
                    pass
                frame = b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK)
                sock.setblocking(True)
                sock.sendall(frame)
                sock.setblocking(False)
                sent += len(CHUNK)
            else:
                sock.setblocking(True)
                sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        sock.setblocking(True)
        sock.settimeout(30)
        try:
            while b"\r\n" not in answer:
                more = sock.recv(65536)
                if not more:
                    break
                answer += more
        except (ConnectionResetError, TimeoutError):
            pass
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0
    return status, sent


def bystander_seconds(app: RunningApp, fake: FakeSlack, name: str, user: str = "U9BYSTANDER") -> float:
    """Seconds from a bystander's signed slash command to its reply at the fake response_url."""
    started = time.perf_counter()
    response = app.command("sweet evening", fake.response_url(name), user=user)
    assert response.status_code == 200, (response.status_code, response.text)
    call = fake.wait(lambda: fake.response_calls(name), 1, 30.0, f"response_url {name}")[0]
    return call.at - started


class Slowloris:
    """`count` connections that send a request's headers one byte every half second, never finishing."""

    def __init__(self, app: RunningApp, count: int) -> None:
        self.sockets: list[socket.socket] = []
        self.closed_by_server = 0
        self._stop = threading.Event()
        for _ in range(count):
            sock = socket.create_connection(address(app), timeout=5)
            sock.sendall(b"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            self.sockets.append(sock)
        self._thread = threading.Thread(target=self._drip, daemon=True)
        self._thread.start()

    def _drip(self) -> None:
        while not self._stop.wait(0.5):
            for sock in list(self.sockets):
                try:
                    sock.sendall(b"a")
                except OSError:
                    self.sockets.remove(sock)
                    self.closed_by_server += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for sock in self.sockets:
            sock.close()


def healthz_seconds(app: RunningApp) -> float:
    """Seconds for GET /healthz on a new connection; 99 when it does not answer within 5 s."""
    started = time.perf_counter()
    try:
        with socket.create_connection(address(app), timeout=5) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            answer = sock.recv(4096)
    except OSError:
        return 99.0
    return time.perf_counter() - started if answer.startswith(b"HTTP/1.1 200") else 99.0


def hold_bodies(app: RunningApp, count: int, size: int) -> tuple[list[socket.socket], list[int]]:
    """`count` connections that each send `size` bytes of a body announced one byte longer, and hold.

    Returns the connections still open and the statuses of those the server answered.
    """
    held: list[socket.socket] = []
    statuses: list[int] = []
    head = f"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {size + 1}\r\n"
    head += "Content-Type: application/x-www-form-urlencoded\r\n\r\n"
    for _ in range(count):
        sock = socket.create_connection(address(app), timeout=5)
        try:
            sock.sendall(head.encode() + b"x" * size)
            sock.settimeout(0.05)
            answer = sock.recv(4096)  # answered at once only when refused
            statuses.append(int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0)
            sock.close()
        except TimeoutError:
            held.append(sock)  # the server is waiting for the last byte
        except OSError:
            statuses.append(0)
            sock.close()
    return held, statuses


class Bystander:
    """A user who keeps asking for dinner while the attack runs; keeps the worst reply latency."""

    def __init__(self, app: RunningApp, fake: FakeSlack) -> None:
        self.app, self.fake = app, fake
        self.worst = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Bystander:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.worst = max(self.worst, self.once())

    def once(self) -> float:
        """One signed slash command; seconds until its reply reached the fake (BYSTANDER_CAP if never)."""
        name = f"bystander-{next(_bystander_names)}"
        body = command_body("sweet evening", self.fake.response_url(name), user="U9BYSTANDER")
        started = time.perf_counter()
        try:
            requests.post(
                f"{self.app.base_url}/slack/events", data=body.encode(), headers=sign(body), timeout=5
            )
            call = self.fake.wait(lambda: self.fake.response_calls(name), 1, BYSTANDER_CAP, name)[0]
        except (AssertionError, requests.RequestException):
            return BYSTANDER_CAP
        return call.at - started

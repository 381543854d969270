"""What the hostile-input tests and bench/bench_attacks_slack.py share: raw sockets, RSS, bystanders."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from slack_fakes import FakeSlack, RunningApp

CHUNK = b"x" * 65536


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

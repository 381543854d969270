"""Memory, bodies and connections: what one client sends is bounded, and /healthz still answers."""

from __future__ import annotations

import json
import resource
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from hostile_service import KEY, PREFIX, Service, bystander_pairs, rank_body

MB = 1024 * 1024


def rss(service: Service) -> int:
    """The service process's resident memory, in bytes."""
    for line in Path(f"/proc/{service.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """One service for this module's tests."""
    running = Service(f"sqlite:///{tmp_path_factory.mktemp('resources')}/resources.db")
    running.wait_healthy()
    yield running
    log = running.stop()
    assert "Traceback" not in log, log


def _big_menu(seed: str) -> list[dict[str, object]]:
    """50 actions of about 18 KB each: a 0.9 MB menu, different for every seed."""
    return [
        {"id": f"{seed}-{i}", "features": [{"description": f"{seed}{i}" + "x" * 18_000}]} for i in range(50)
    ]


def test_distinct_big_menus_do_not_grow_memory(service: Service) -> None:
    """300 distinct 0.9 MB menus: the validation caches are bounded by bytes, not by count."""
    bystander_pairs(service, count=3)
    before = rss(service)
    session = requests.Session()
    for n in range(300):
        body = json.dumps(rank_body(menu=_big_menu(uuid.uuid4().hex))).encode()
        answer = session.post(
            f"{service.url}{PREFIX}/rank", data=body, headers={"Ocp-Apim-Subscription-Key": KEY}, timeout=30
        )
        assert answer.status_code == 201, (n, answer.text)
    grown = rss(service) - before
    assert grown < 100 * MB, f"RSS grew by {grown / MB:.0f} MB"
    bystander_pairs(service, count=5)


def _send_chunked(url_port: int, method: str, path: str, chunks: int, chunk: bytes) -> bytes:
    """A chunked POST that keeps sending until the server stops it; returns what the server answered."""
    with socket.create_connection(("127.0.0.1", url_port), timeout=10) as sock:
        sock.sendall(
            f"{method} {path} HTTP/1.1\r\nHost: x\r\nOcp-Apim-Subscription-Key: {KEY}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
        )
        try:
            for _ in range(chunks):
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server closed the connection: refused while streaming
        sock.settimeout(10)
        try:
            return sock.recv(4096)
        except OSError:
            return b""


@pytest.mark.parametrize(
    "method,path",
    [("POST", f"{PREFIX}/rank"), ("PUT", f"{PREFIX}/configurations/service"), ("PUT", f"{PREFIX}/model")],
)
def test_chunked_bodies_are_refused_while_streaming(service: Service, method: str, path: str) -> None:
    """Six 40 MB chunked bodies (80 MB for the model): a 413 each, and memory stays put."""
    before = rss(service)
    size = 80 if path.endswith("/model") else 40
    for _ in range(6):
        answer = _send_chunked(service.port, method, path, size * 16, b"[" * 65536)
        assert answer.startswith(b"HTTP/1.1 413") or answer == b"", answer[:200]
    grown = rss(service) - before
    assert grown < 50 * MB, f"RSS grew by {grown / MB:.0f} MB"
    bystander_pairs(service, count=5)


def _slowloris(port: int, count: int, stop: threading.Event) -> list[socket.socket]:
    """`count` connections that send half a request head and then one byte every half second."""
    opened: list[socket.socket] = []
    for _ in range(count):
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=2)
            sock.sendall(b"POST /personalizer/v1.0/rank HTTP/1.1\r\nHost: x\r\n")
            opened.append(sock)
        except OSError:
            break

    def trickle() -> None:
        while not stop.wait(0.5):
            for sock in opened:
                try:
                    sock.sendall(b"X")
                except OSError:
                    pass

    threading.Thread(target=trickle, daemon=True).start()
    return opened


def _health_within(service: Service, seconds: float) -> float:
    started = time.monotonic()
    answer = requests.get(f"{service.url}/healthz", timeout=seconds)
    assert answer.status_code == 200
    return time.monotonic() - started


def test_health_answers_under_a_slowloris_with_few_open_files(tmp_path: Path) -> None:
    """With 128 open files allowed, 400 trickling connections: /healthz and ranks still answer within 1 s."""

    def few_files() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (128, 128))

    slow = Service(f"sqlite:///{tmp_path}/slow.db", preexec=few_files)
    stop = threading.Event()
    opened: list[socket.socket] = []
    try:
        slow.wait_healthy()
        opened = _slowloris(slow.port, 400, stop)
        time.sleep(1.0)
        for _ in range(10):
            assert _health_within(slow, 1.0) < 1.0
        bystander_pairs(slow, count=20)
    finally:
        stop.set()
        for sock in opened:
            sock.close()
        log = slow.stop()
    assert "Traceback" not in log, log


def test_idle_connections_are_closed(service: Service) -> None:
    """A connection that never sends a request head is closed by the server within seconds."""
    with socket.create_connection(("127.0.0.1", service.port), timeout=15) as sock:
        started = time.monotonic()
        assert sock.recv(1) == b""  # closed by the server (a timeout here would raise)
        assert time.monotonic() - started < 12

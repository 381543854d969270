"""The attacks of bench_attacks_service.py, one function per class: each runs for `seconds` against the
service on `port` and returns the attacker's answers by status (0: the server closed the connection)."""

from __future__ import annotations

import collections
import http.client
import json
import socket
import time
import uuid
from collections.abc import Callable
from typing import Any

from bench_service_kill import RANK_BODY
from bench_service_load import KEY

PREFIX = "/personalizer/v1.0"
HEADERS = {"Ocp-Apim-Subscription-Key": KEY, "Content-Type": "application/json"}
HUGE = "1" + "0" * 400


def request(
    connection: http.client.HTTPConnection, method: str, path: str, body: Any = None, raw: bytes | None = None
) -> int:
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    connection.request(method, PREFIX + path, data, HEADERS)
    response = connection.getresponse()
    response.read()
    return response.status


def _attacker(port: int) -> Callable[[str, str, Any, bytes | None], int]:
    connection = [http.client.HTTPConnection("127.0.0.1", port, timeout=30)]

    def send(method: str, path: str, body: Any = None, raw: bytes | None = None) -> int:
        try:
            return request(connection[0], method, path, body, raw)
        except (OSError, http.client.HTTPException):
            connection[0].close()
            connection[0] = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            return 0  # the server closed the connection

    return send


def unstorable_text(port: int, seconds: float) -> collections.Counter[int]:
    """Lone surrogates and NUL in every field of a rank, with and without a served model, and in paths."""
    send, outcomes = _attacker(port), collections.Counter[int]()
    bodies = []
    for bad in ("\ud800", "a\udfffb", "\x00"):
        base = dict(RANK_BODY)
        bodies += [
            dict(base, eventId=bad),
            dict(base, actions=[{"id": bad, "features": [{"x": 1}]}]),
            dict(base, actions=[{"id": "a", "features": [{bad: 1}]}]),
            dict(base, actions=[{"id": "a", "features": [{"x": bad}]}]),
            dict(base, contextFeatures=[{bad: "x"}]),
            dict(base, contextFeatures=[{"x": {"y": bad}}]),
            dict(base, excludedActions=[bad]),
        ]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        send("DELETE", "/model")
        for body in bodies:
            outcomes[send("POST", "/rank", raw=json.dumps(body).encode())] += 1
        outcomes[send("POST", "/events/%ED%A0%80/reward", {"value": 1})] += 1
        outcomes[send("POST", "/events/a%00b/activate", {})] += 1
        model = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        model.request("GET", PREFIX + "/model", headers=HEADERS)
        exported = model.getresponse().read()
        model.close()
        send("PUT", "/model", raw=exported)
        for body in bodies:
            outcomes[send("POST", "/rank", raw=json.dumps(body).encode())] += 1
    return outcomes


def huge_numbers(port: int, seconds: float) -> collections.Counter[int]:
    """Numbers too large to parse: rewards, features, configuration values."""
    send, outcomes = _attacker(port), collections.Counter[int]()
    config = '{"rewardWaitTime":"%s","defaultReward":%s,"rewardAggregation":"earliest","explorationPercentage":%s,"modelExportFrequency":"PT1S","logRetentionDays":90}'
    raws = [
        (
            "POST",
            "/rank",
            b'{"contextFeatures":[{"n":' + HUGE.encode() + b'}],"actions":[{"id":"a","features":[{"x":1}]}]}',
        ),
        (
            "POST",
            "/rank",
            b'{"contextFeatures":[{"n":1e400}],"actions":[{"id":"a","features":[{"x":'
            + HUGE.encode()
            + b"}]}]}",
        ),
        ("PUT", "/configurations/service", (config % ("P999999999999D", "0", "0.2")).encode()),
        ("PUT", "/configurations/service", (config % ("PT10M", HUGE, "0.2")).encode()),
        ("PUT", "/configurations/service", (config % ("PT10M", "0", HUGE)).encode()),
    ]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        event_id = uuid.uuid4().hex
        send("POST", "/rank", dict(RANK_BODY, eventId=event_id))
        outcomes[send("POST", f"/events/{event_id}/reward", raw=b'{"value":' + HUGE.encode() + b"}")] += 1
        for method, path, raw in raws:
            outcomes[send(method, path, raw=raw)] += 1
    return outcomes


def huge_context(port: int, seconds: float) -> collections.Counter[int]:
    """12,000 context features and 50 actions (144 KB) under the default policy."""
    send, outcomes = _attacker(port), collections.Counter[int]()
    body = json.dumps(
        {
            "contextFeatures": [{f"f{i}": i for i in range(12_000)}],
            "actions": [{"id": f"a{i}", "features": [{"x": i, "y": "z"}]} for i in range(50)],
        }
    ).encode()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        outcomes[send("POST", "/rank", raw=body)] += 1
    return outcomes


def at_the_work_limit(port: int, seconds: float) -> collections.Counter[int]:
    """Ranks just under the interaction budget (120 context features, 50 actions of 7), each rewarded, so
    the trainer learns them too (the model updates every second here)."""
    send, outcomes = _attacker(port), collections.Counter[int]()
    actions = [{"id": f"a{i}", "features": [{f"x{j}": j for j in range(6)}]} for i in range(50)]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        event_id = uuid.uuid4().hex
        context = [{f"f{i}": (i + len(event_id)) % 7 for i in range(120)}]
        status = send("POST", "/rank", {"contextFeatures": context, "actions": actions, "eventId": event_id})
        outcomes[status] += 1
        if status == 201:
            outcomes[send("POST", f"/events/{event_id}/reward", {"value": 1})] += 1
    return outcomes


def distinct_big_menus(port: int, seconds: float) -> collections.Counter[int]:
    """Distinct 0.9 MB menus (50 actions of 18 KB), each ranked once: what the validation caches keep."""
    send, outcomes = _attacker(port), collections.Counter[int]()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        seed = uuid.uuid4().hex
        menu = [{"id": f"{seed}-{i}", "features": [{"d": f"{seed}{i}" + "x" * 18_000}]} for i in range(50)]
        outcomes[send("POST", "/rank", {"contextFeatures": [{"t": "x"}], "actions": menu})] += 1
    return outcomes


def chunked_bodies(port: int, seconds: float) -> collections.Counter[int]:
    """40 MB chunked bodies on rank, configuration and model (80 MB there)."""
    outcomes = collections.Counter[int]()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for method, path, size in (
            ("POST", "/rank", 40),
            ("PUT", "/configurations/service", 40),
            ("PUT", "/model", 80),
        ):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(
                    f"{method} {PREFIX}{path} HTTP/1.1\r\nHost: x\r\nOcp-Apim-Subscription-Key: {KEY}\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n".encode()
                )
                try:
                    for _ in range(size * 16):
                        sock.sendall(b"10000\r\n" + b"[" * 65536 + b"\r\n")
                except OSError:
                    pass
                try:
                    head = sock.recv(64)
                    outcomes[int(head.split()[1]) if head.startswith(b"HTTP/") else 0] += 1
                except OSError:
                    outcomes[0] += 1
    return outcomes


def truncated_models(port: int, seconds: float) -> collections.Counter[int]:
    """PUT /model with the export's first 200 bytes, first half, all but the last byte."""
    send, outcomes = _attacker(port), collections.Counter[int]()
    model = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    model.request("GET", PREFIX + "/model", headers=HEADERS)
    exported = model.getresponse().read()
    model.close()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for cut in (exported[:200], exported[: len(exported) // 2], exported[:-1]):
            outcomes[send("PUT", "/model", raw=cut)] += 1
    send("PUT", "/model", raw=exported)
    return outcomes


def slowloris(port: int, seconds: float) -> collections.Counter[int]:
    """400 connections trickling a request head, one byte each every half second."""
    outcomes = collections.Counter[int]()
    opened = []
    for _ in range(400):
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=2)
            sock.sendall(b"POST /personalizer/v1.0/rank HTTP/1.1\r\nHost: x\r\n")
            opened.append(sock)
        except OSError:
            outcomes[0] += 1
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.5)
        for sock in list(opened):
            try:
                sock.sendall(b"X")
            except OSError:
                outcomes[-1] += 1  # closed by the server
                opened.remove(sock)
    for sock in opened:
        sock.close()
    return outcomes


ATTACKS: list[tuple[str, Callable[[int, float], collections.Counter[int]]]] = [
    ("unstorable text (surrogates, NUL) in every field", unstorable_text),
    ("numbers too large to parse", huge_numbers),
    ("12,000 context features x 50 actions", huge_context),
    ("ranks at the work limit, rewarded and trained", at_the_work_limit),
    ("distinct 0.9 MB menus", distinct_big_menus),
    ("40 MB chunked bodies", chunked_bodies),
    ("truncated models (PUT /model)", truncated_models),
    ("slowloris, 400 connections", slowloris),
]

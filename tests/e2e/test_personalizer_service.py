"""`python app.py personalizer` as a process: start-up refusal, clean stop, configuration across restarts."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

from bot.api.server import run_personalizer

ROOT = Path(__file__).resolve().parents[2]
KEY = "e2e-service-key"
HEADERS = {"Ocp-Apim-Subscription-Key": KEY}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def launch(database_url: str, port: int, **extra: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONALIZER_")}
    env.update(
        {"PERSONALIZER_KEY": KEY, "PORT": str(port), "HOST": "127.0.0.1", "DATABASE_URL": database_url}
    )
    env.update(extra)
    env = {k: v for k, v in env.items() if v != ""}
    return subprocess.Popen(
        [sys.executable, "app.py", "personalizer"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def wait_healthy(process: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                return
        except requests.RequestException:  # refused, or accepted by the shared socket before a process serves
            time.sleep(0.1)
    process.kill()
    raise AssertionError("the service did not start")


def stop(process: subprocess.Popen[bytes]) -> str:
    """SIGTERM, as platforms stop a process; returns its output."""
    process.send_signal(signal.SIGTERM)
    try:
        output, _ = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return output.decode()


def test_refuses_to_start_without_a_key(tmp_path: Path) -> None:
    process = launch(f"sqlite:///{tmp_path}/db.sqlite", free_port(), PERSONALIZER_KEY="")
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 2
    assert b"PERSONALIZER_KEY" in output


def test_run_personalizer_guards_the_key_itself() -> None:
    with pytest.raises(SystemExit, match="PERSONALIZER_KEY"):
        run_personalizer(SimpleNamespace(personalizer_key="", database_url="sqlite://", port=0))


def test_configuration_survives_a_restart_unless_the_environment_sets_it(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path}/db.sqlite"
    port = free_port()
    url = f"http://127.0.0.1:{port}/personalizer/v1.0/configurations/service"
    process = launch(database_url, port, PERSONALIZER_REWARD_WAIT_TIME="PT2M")
    try:
        wait_healthy(process, port)
        current = requests.get(url, headers=HEADERS, timeout=10).json()
        assert current["rewardWaitTime"] == "PT2M"
        changed = dict(current, rewardWaitTime="PT5M", explorationPercentage=0.05)
        assert requests.put(url, json=changed, headers=HEADERS, timeout=10).status_code == 200
    finally:
        output = stop(process)
    assert process.returncode in (0, -signal.SIGTERM)  # uvicorn re-raises the signal after a clean shutdown
    assert "learning loop closed" in output

    process = launch(database_url, port, PERSONALIZER_REWARD_WAIT_TIME="PT2M")
    try:
        wait_healthy(process, port)
        after = requests.get(url, headers=HEADERS, timeout=10).json()
        assert after["explorationPercentage"] == 0.05  # the PUT was kept
        assert after["rewardWaitTime"] == "PT2M"  # the environment names this one: it wins
    finally:
        stop(process)


WORKERS_SCRIPT = """
import logging, sys
from types import SimpleNamespace
from bot.api.server import run_personalizer
from bot.personalizer.local.settings import LoopSettings
logging.basicConfig(level="INFO", stream=sys.stderr)
run_personalizer(SimpleNamespace(
    personalizer_key=sys.argv[1], host="127.0.0.1", port=int(sys.argv[2]), database_url=sys.argv[3],
    loop_settings=LoopSettings(model_export_frequency=1.0), loop_settings_explicit=(), web_concurrency=2,
))
"""


def launch_workers(database_url: str, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", WORKERS_SCRIPT, KEY, str(port), database_url],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def child_pids(parent: int) -> list[int]:
    children = Path(f"/proc/{parent}/task/{parent}/children")
    return [int(pid) for pid in children.read_text().split()] if children.exists() else []


def test_two_processes_share_the_port_and_the_log(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path}/db.sqlite"
    port = free_port()
    process = launch_workers(database_url, port)
    try:
        wait_healthy(process, port)
        assert len(child_pids(process.pid)) == 2
        session = requests.Session()
        base = f"http://127.0.0.1:{port}/personalizer/v1.0"
        body = {
            "contextFeatures": [{"a": "b"}],
            "actions": [{"id": "x", "features": []}, {"id": "y", "features": []}],
        }
        for i in range(40):  # new connections each time: the kernel spreads them over both processes
            ranked = requests.post(
                base + "/rank", json=dict(body, eventId=f"e{i}"), headers=HEADERS, timeout=10
            )
            assert ranked.status_code == 201
            liked = ranked.json()["rewardActionId"] == "x"
            reward = session.post(
                f"{base}/events/e{i}/reward", json={"value": 1 if liked else 0}, headers=HEADERS, timeout=10
            )
            assert reward.status_code == 204  # whichever process logged the rank
        # The supervising process trains (the workers only serve); every worker picks up its model.
        deadline, streak = time.monotonic() + 30, 0
        while streak < 10:
            assert time.monotonic() < deadline, "the workers never served a model that prefers x"
            answer = requests.post(base + "/rank", json=body, headers=HEADERS, timeout=10)
            assert answer.status_code == 201, answer.text
            ranked = answer.json()
            x = next(r["probability"] for r in ranked["ranking"] if r["id"] == "x")
            streak = streak + 1 if x > 0.6 else 0
            if not streak:
                time.sleep(0.2)  # waiting for the next model publication (every second)
    finally:
        output = stop(process)
    assert process.returncode == 0, output
    assert output.count("learning loop closed") == 2


def connections_held(pid: int, port: int) -> int:
    """How many established TCP connections to `port` the process holds (its fds matched to /proc/net/tcp)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    held = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port, state, inode = int(fields[1].split(":")[1], 16), fields[3], fields[9]
        held += local_port == port and state == "01" and inode in inodes
    return held


def test_long_lived_connections_are_spread_evenly_over_the_processes(tmp_path: Path) -> None:
    """Clients keep their connections (wrk, connection pools): a process holding most of them is the
    bottleneck while the other idles. Each process listens on its own socket of one SO_REUSEPORT group,
    so the kernel spreads new connections over them (with one shared socket, the first process to wake
    took a burst: 10 to 13 of wrk's 16 in the load benchmark)."""
    port = free_port()
    process = launch_workers(f"sqlite:///{tmp_path}/db.sqlite", port)
    clients: list[socket.socket] = []
    try:
        wait_healthy(process, port)
        for _ in range(64):  # opened together, as a load generator or a pool opens them
            # A generous timeout: on a busy machine the second process may start accepting seconds after
            # the first answered /healthz, and until then its share waits in its socket's backlog.
            clients.append(socket.create_connection(("127.0.0.1", port), timeout=60))
        for client in clients:
            client.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        for client in clients:
            assert client.recv(4096).startswith(b"HTTP/1.1 200")
        held = sorted(connections_held(pid, port) for pid in child_pids(process.pid))
        assert sum(held) == 64
        assert held[0] >= 16, held  # binomial(64, 1/2): fewer than 16 on one side about once in 30,000 runs
    finally:
        for client in clients:
            client.close()
        stop(process)


def test_a_dead_process_takes_the_service_down_for_a_restart(tmp_path: Path) -> None:
    port = free_port()
    process = launch_workers(f"sqlite:///{tmp_path}/db.sqlite", port)
    try:
        wait_healthy(process, port)
        os.kill(child_pids(process.pid)[0], signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        output = stop(process) if process.poll() is None else process.stdout.read().decode()  # type: ignore[union-attr]
    assert process.returncode == 1
    assert "a service process exited" in output

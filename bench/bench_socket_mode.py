"""Socket Mode clients under network faults, against a mock Socket Mode server on loopback.

For each of slack_sdk's four clients (a minimal Bolt app over Bolt's adapter for it) and for the app itself
(`python app.py` with SLACK_APP_TOKEN), measures:
  drop       a connection dropped without a close frame: seconds until an envelope is acked on a new
             connection, and the CPU seconds the process used meanwhile
  half-open  the server stops reading (pings get no pong): seconds until an envelope is acked again
  refresh    `disconnect` with `refresh_requested`, a slash command every 0.1 s for 3 s: slowest ack, lost
  idle       CPU seconds used in 20 s with nothing to do
  sigterm    seconds from SIGTERM to exit
Prints a Markdown table (for docs/socket-mode.md).

    .venv/bin/python bench/bench_socket_mode.py [--clients builtin,websocket_client,aiohttp,websockets,app]
                                                [--ping 10]
A client process alone: bench_socket_mode.py --serve <client> <ping interval>
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests" / "support")]

from slack_fakes import app_environment  # noqa: E402
from socket_mode_app import APP_TOKEN, SocketModeSlack, slash_command  # noqa: E402
from socket_mode_server import MockSocketModeServer  # noqa: E402

GIVE_UP = 90.0  # seconds: a client not back by then is reported as such
CLIENTS = ["builtin", "websocket_client", "aiohttp", "websockets", "app"]


def serve(kind: str, ping: float) -> None:
    """A minimal Bolt app (one slash command that acks) over `kind`'s Socket Mode client."""
    from slack_bolt import App
    from slack_sdk import WebClient

    api_url, token = os.environ["SLACK_API_URL"], os.environ["SLACK_APP_TOKEN"]
    app = App(client=WebClient(token="xoxb-bench", base_url=api_url), signing_secret="-")
    app.command("/whatsfordinner")(lambda ack: ack())
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if kind in ("builtin", "websocket_client"):
        from slack_bolt.adapter.socket_mode import builtin, websocket_client

        module: Any = builtin if kind == "builtin" else websocket_client
        module.SocketModeHandler(app, token, ping_interval=ping).start()
        return
    from slack_sdk.web.async_client import AsyncWebClient

    if kind == "aiohttp":
        from slack_bolt.adapter.socket_mode.aiohttp import SocketModeHandler
    else:
        from slack_bolt.adapter.socket_mode.websockets import SocketModeHandler  # type: ignore[assignment]

    async def run() -> None:
        web_client = AsyncWebClient(base_url=api_url)
        await SocketModeHandler(app, token, web_client=web_client, ping_interval=ping).start_async()

    asyncio.run(run())


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def acked_again(server: MockSocketModeServer, slack: SocketModeSlack, since: float) -> float | None:
    """An envelope every 0.5 s to the newest working connection until one is acked: its ack's time."""
    while time.monotonic() - since < GIVE_UP:
        links = server.open_links()
        if links:
            try:
                sent = server.send(slash_command("sweet night", slack.response_url("bench")), links[-1])
                return server.wait_for_ack(sent, timeout=0.5).at
            except Exception:  # not acked in time, or the link closed while sending
                continue
        time.sleep(0.1)
    return None


def scenario(kind: str, ping: float, name: str, workdir: Path) -> str:
    """One fresh client process, one fault; the figure as table text."""
    with SocketModeSlack() as slack, MockSocketModeServer() as server:
        slack.socket_url = server.url
        env = app_environment(slack, workdir, SLACK_APP_TOKEN=APP_TOKEN, LOG_LEVEL="WARNING")
        command = [sys.executable, str(REPO / "app.py")]
        if kind != "app":
            command = [sys.executable, __file__, "--serve", kind, str(ping)]
        log = (workdir / f"{kind}.log").open("ab")
        process = subprocess.Popen(command, cwd=workdir, env=env, stdout=log, stderr=log)
        try:
            link = server.wait_for_link(timeout=60)
            if acked_again(server, slack, time.monotonic()) is None:
                return "never acked"
            if name == "idle":
                before = cpu_seconds(process.pid)
                time.sleep(20)
                return f"{cpu_seconds(process.pid) - before:.2f} s"
            if name == "sigterm":
                started = time.monotonic()
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    return "> 30 s"
                return f"{time.monotonic() - started:.2f} s"
            if name == "refresh":
                return refresh(server, slack, link)
            before, started = cpu_seconds(process.pid), time.monotonic()
            if name == "drop":
                server.drop(link)
            else:
                server.go_half_open(link)
            at = acked_again(server, slack, started)
            used = cpu_seconds(process.pid) - before
            if at is None:
                return f"> {GIVE_UP:.0f} s ({used:.1f} CPU-s)"
            return f"{at - started:.1f} s ({used:.2f} CPU-s)" if name == "drop" else f"{at - started:.1f} s"
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            log.close()


def refresh(server: MockSocketModeServer, slack: SocketModeSlack, link: Any) -> str:
    """Slowest ack of the commands sent during the 3 s after a refresh, and how many were never acked."""
    server.refresh(link, close_after=5.0)
    sent, started = [], time.monotonic()
    while time.monotonic() - started < 3.0:
        links = server.open_links()
        if links:
            try:
                sent.append(
                    server.send(slash_command("salty evening", slack.response_url("bench")), links[-1])
                )
            except Exception:  # closed while sending: Slack would send it again on the new connection
                pass
        time.sleep(0.1)
    latencies, lost = [], 0
    for envelope_id in sent:
        try:
            server.wait_for_ack(envelope_id, timeout=max(0.1, 8.0 - (time.monotonic() - started)))
            latencies.append(server.ack_latency(envelope_id))
        except AssertionError:
            lost += 1
    slowest = f"{max(latencies):.2f} s" if latencies else "none acked"
    return f"{slowest}, {lost}/{len(sent)} lost"


def main() -> None:
    """Run every scenario for every client and print the table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", default=",".join(CLIENTS))
    parser.add_argument("--ping", type=float, default=10.0, help="ping interval for the four SDK clients")
    parser.add_argument("--serve", nargs=2, metavar=("CLIENT", "PING"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], float(args.serve[1]))
        return
    names = ["drop", "half-open", "refresh", "idle", "sigterm"]
    print("| client | ping | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.clients.split(","):
            ping = "5 (the app's)" if kind == "app" else f"{args.ping:g}"
            cells = [scenario(kind, args.ping, name, Path(tmp)) for name in names]
            print(f"| {kind} | {ping} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()

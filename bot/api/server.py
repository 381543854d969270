"""`python app.py personalizer`: the learning loop behind Personalizer's REST API, served by uvicorn."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import uvicorn
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bot.api.asgi import build_app
from bot.http_connections import KEEP_ALIVE_TIMEOUT, GuardedHttpToolsProtocol, connection_cap
from bot.personalizer.base import RankerUnavailable
from bot.personalizer.local import LoopSettings, evaluations_for, open_learning_loop

logger = logging.getLogger(__name__)
EXIT_CONFIG = 2  # a setting is wrong (here DATABASE_URL): the bot's status for the same failure


def run_personalizer(config: Any) -> None:
    """Open the learning loop on config.database_url and serve it on config.host:config.port until stopped.

    With config.web_concurrency > 1, that many processes share the port, each with its own loop
    on the same database, following the models this supervising process trains at a lower CPU priority
    (so training never holds a serving process's GIL); a process that dies takes the others down, so the
    platform restarts the whole service rather than running it short-handed.
    """
    if not getattr(config, "personalizer_key", ""):
        raise SystemExit("PERSONALIZER_KEY is not set: the Personalizer service never runs without a key")
    host = getattr(config, "host", "0.0.0.0")
    workers = config.web_concurrency
    logger.info(
        "Personalizer service on http://%s:%s/personalizer/v1.0 (%d process(es))", host, config.port, workers
    )
    if workers <= 1:
        serve_one(config)
        return
    # Create the tables, settings and first model once, before the processes race to do it.
    open_or_exit(config, run_trainer=False).close()
    sockets = listening_sockets(host, config.port, workers)  # bound here: a taken port stops start-up
    context = multiprocessing.get_context("fork")  # children inherit the sockets; each opens its own loop
    children = [
        context.Process(target=_serve_worker, args=(config, sockets, n), daemon=False) for n in range(workers)
    ]
    for child in children:
        child.start()
    for sock in sockets:
        sock.close()
    # The trainer yields the CPU to the serving processes (but not while it holds the writers' lock).
    trainer = open_or_exit(config, training_nice=10)
    stopping = threading.Event()

    def stop(signum: int, _frame: Any) -> None:
        stopping.set()
        for child in children:
            if child.is_alive():
                os.kill(child.pid or 0, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping.is_set() and all(child.is_alive() for child in children):
        time.sleep(0.2)
    if not stopping.is_set():
        logger.error("a service process exited; stopping the others")
        stop(signal.SIGTERM, None)
    for child in children:
        child.join(timeout=30)
    trainer.close()
    if not stopping.is_set() or any(child.exitcode not in (0, -signal.SIGTERM) for child in children):
        raise SystemExit(1)


def serve_one(config: Any, sock: socket.socket | None = None, train: bool = True) -> None:
    """One service process: its own learning loop (training too, unless told not to), served by uvicorn."""
    loop = open_or_exit(config, train=train)
    evaluations = evaluations_for(loop)  # jobs run in worker processes, one at a time per database
    evaluations.start()
    closed = threading.Event()

    def close_loop() -> None:
        if not closed.is_set():
            closed.set()
            evaluations.close()
            loop.close()
            logger.info("learning loop closed")

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        yield
        # Runs on SIGTERM/SIGINT before uvicorn re-raises the signal: queued writes finish, the lead is freed.
        close_loop()

    server_config = uvicorn.Config(
        build_app(loop, config.personalizer_key, lifespan=lifespan, evaluations=evaluations),
        host=getattr(config, "host", "0.0.0.0"),
        port=config.port,
        loop="uvloop",
        http=guarded_protocol(),  # httptools, with a deadline for request heads and a connection cap
        timeout_keep_alive=KEEP_ALIVE_TIMEOUT,
        access_log=False,  # one line per rank would cost more than the rank; errors are still logged
        log_config=None,  # app.py configured logging once
        backlog=2048,
        timeout_graceful_shutdown=5,
    )
    try:
        uvicorn.Server(server_config).run(sockets=None if sock is None else [sock])
    finally:
        close_loop()  # also when uvicorn could not bind


def open_or_exit(config: Any, **options: Any) -> Any:
    """The learning loop on config.database_url, or one line naming DATABASE_URL (password hidden) on stderr
    and exit status 2, a setting to fix, as the bot does, when the database cannot be opened or written."""
    try:
        return open_learning_loop(
            config.database_url, config.loop_settings, explicit=explicit_settings(config), **options
        )
    except (RankerUnavailable, SQLAlchemyError, OSError) as exc:
        problem = str(exc) if isinstance(exc, RankerUnavailable) else f"cannot open the database: {exc}"
        shown = make_url(config.database_url).render_as_string(hide_password=True)
        first = next((line.strip() for line in problem.splitlines() if line.strip()), type(exc).__name__)
        sys.stderr.write(
            f"DATABASE_URL={shown!r}: {first}. Check the URL, the server, and that it may write.\n"
        )
        raise SystemExit(EXIT_CONFIG) from None


def guarded_protocol() -> type[GuardedHttpToolsProtocol]:
    """The connection guard (connections.py), capped to what the open-file limit leaves room for."""
    return type("ServiceProtocol", (GuardedHttpToolsProtocol,), {"max_connections": connection_cap()})


def _serve_worker(config: Any, sockets: list[socket.socket], index: int) -> None:
    """A forked service process: serves on its own listening socket and closes its siblings' copies, so
    that a process that dies takes its socket (and the connections waiting on it) out of the group."""
    for n, sock in enumerate(sockets):
        if n != index:
            sock.close()
    serve_one(config, sockets[index], train=False)


def listening_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """`count` listening TCP sockets on one address, one per service process, in one SO_REUSEPORT group:
    the kernel spreads new connections over them evenly. One shared socket let the process that woke
    first accept a whole burst (10 to 13 of the load benchmark's 16 connections, kept for its whole run)."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            port = sock.getsockname()[1]  # port 0: the others join the port the first one got
            sock.listen(2048)
            sock.set_inheritable(True)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def explicit_settings(config: Any) -> set[str]:
    """The loop settings the environment chose; the others keep what PUT /configurations/service stored."""
    named = getattr(config, "loop_settings_explicit", None)
    if named is not None:
        return set(named)
    # Without the list from the config layer: whatever differs from the defaults was set on purpose.
    baseline = LoopSettings(model_export_frequency=30.0)
    return {
        f.name
        for f in dataclasses.fields(LoopSettings)
        if getattr(config.loop_settings, f.name) != getattr(baseline, f.name)
    }


@contextlib.contextmanager
def serving_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve `app` with the production server stack on a background thread; yields its base URL.

    For tests and benchmarks: the same uvicorn/httptools/uvloop stack as run_personalizer, stopped on exit.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    config = uvicorn.Config(
        app, loop="uvloop", http="httptools", access_log=False, log_config=None, lifespan="off", backlog=2048
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()

"""`python app.py personalizer`: the learning loop behind Personalizer's REST API, served by uvicorn."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn

from bot.personalizer.api import build_app

logger = logging.getLogger(__name__)


def run_personalizer(config: Any) -> None:
    """Open the learning loop on config.database_url and serve it on config.host:config.port until stopped."""
    if not getattr(config, "personalizer_key", ""):
        raise SystemExit("PERSONALIZER_KEY is not set: the Personalizer service never runs without a key")
    from bot.personalizer.loop import open_learning_loop  # VW and the store load only in this mode

    loop = open_learning_loop(config.database_url, config.loop_settings)
    try:
        app = build_app(loop, config.personalizer_key)
        host = getattr(config, "host", "0.0.0.0")
        logger.info("Personalizer service on http://%s:%s/personalizer/v1.0", host, config.port)
        uvicorn.run(
            app,
            host=host,
            port=config.port,
            loop="uvloop",
            http="httptools",
            access_log=False,  # one line per rank would cost more than the rank; errors are still logged
            log_config=None,  # app.py configured logging once
            backlog=2048,
            timeout_graceful_shutdown=5,
        )
    finally:
        loop.close()


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

"""whatsfordinner's entry point: read the config, build the services, register the listeners, serve.

python app.py               the Slack bot (Socket Mode with SLACK_APP_TOKEN, else HTTP on $PORT)
python app.py console       the seed quickstart's loop in the terminal, on the same ranker
python app.py auto          the bot if Slack is configured, else the console (what `make run` runs)
python app.py personalizer  the Personalizer-compatible REST service
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path

from dotenv import dotenv_values
from slack_bolt import App
from slack_bolt.error import BoltError
from slack_sdk import WebClient

from bot.config import Config, ConfigError, load_config, slack_configured
from bot.listeners import register_listeners
from bot.menu import MenuError
from bot.services import Services, build_services

logger = logging.getLogger("whatsfordinner")
EXIT_CONFIG = 2  # missing or invalid settings
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LISTENER_THREADS = 16  # listener work in flight; more only adds GIL contention on small hosts


def read_environment() -> dict[str, str]:
    """`.env` from the current directory, overridden by the real environment."""
    values = {k: v for k, v in dotenv_values(Path.cwd() / ".env").items() if v is not None}
    values.update(os.environ)
    return values


def configure_logging(level: str) -> None:
    """Log to stderr once, for the whole process."""
    logging.basicConfig(level=level, format=LOG_FORMAT, stream=sys.stderr)


def build_bolt_app(config: Config, services: Services, executor: Executor) -> App:
    """The Bolt App with every listener, their work run on `executor`; its WebClient uses SLACK_API_URL."""
    client_args: dict[str, object] = {"token": config.slack_bot_token, "timeout": 10}
    if config.slack_api_url:
        client_args["base_url"] = config.slack_api_url
    app = App(
        client=WebClient(**client_args),  # type: ignore[arg-type]
        signing_secret=config.slack_signing_secret,
        process_before_response=True,  # acks run inline, the work on `executor`: see bot/listeners
        listener_executor=executor,
    )
    register_listeners(app, services, executor)
    return app


def run_bot(environ: Mapping[str, str]) -> int:
    """Serve Slack: Socket Mode when SLACK_APP_TOKEN is set, otherwise HTTP with uvicorn."""
    config = _load(environ, "bot")
    if config is None:
        return EXIT_CONFIG
    configure_logging(config.log_level)
    services = _services(config)
    if services is None:
        return EXIT_CONFIG
    executor = ThreadPoolExecutor(max_workers=LISTENER_THREADS, thread_name_prefix="listener")
    stopped = threading.Event()

    def shut_down() -> None:
        if not stopped.is_set():
            stopped.set()
            executor.shutdown(wait=True)  # suggestions and votes already acked finish first
            services.close()
            logger.info("stopped")

    try:
        try:
            bolt_app = build_bolt_app(config, services, executor)
        except BoltError as exc:  # auth.test refused the token
            logger.error("Slack refused the bot token: %s", exc)
            return 1
        if config.socket_mode:
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            # uvicorn turns SIGTERM into a clean stop; here, make it unwind through `finally` too.
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
            logger.info("connecting to Slack over Socket Mode")
            SocketModeHandler(bolt_app, config.slack_app_token).start()
        else:
            import uvicorn

            from bot.web import build_web_app

            web_app = build_web_app(bolt_app, on_shutdown=shut_down)
            uvicorn.run(
                web_app,
                host=config.host,
                port=config.port,
                log_config=None,  # configured once above
                access_log=False,  # a line per click costs more than the click; errors are still logged
                backlog=2048,
                timeout_graceful_shutdown=5,
            )
    finally:
        shut_down()
    return 0


def run_console_mode(environ: Mapping[str, str]) -> int:
    """The terminal conversation on the configured ranker."""
    config = _load(environ, "console")
    if config is None:
        return EXIT_CONFIG
    configure_logging(config.log_level if environ.get("LOG_LEVEL") else "WARNING")
    services = _services(config)
    if services is None:
        return EXIT_CONFIG
    from bot.console import run_console

    try:
        run_console(services.ranker, services.menu)
    finally:
        services.close()
    return 0


def run_auto(environ: Mapping[str, str]) -> int:
    """The bot when Slack is configured, else one line on how to connect it and the console."""
    if slack_configured(environ):
        return run_bot(environ)
    sys.stderr.write(
        "Slack is not configured (SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET): see README.md, "
        '"Connect Slack". Starting the terminal conversation instead.\n'
    )
    return run_console_mode(environ)


def run_personalizer_mode(environ: Mapping[str, str]) -> int:
    """The Personalizer-compatible REST service."""
    config = _load(environ, "personalizer")
    if config is None:
        return EXIT_CONFIG
    configure_logging(config.log_level)
    from bot.personalizer.service import run_personalizer

    run_personalizer(config)
    return 0


# One entry per `python app.py <mode>`; new modes (e.g. a standalone trainer) add a line here.
MODES: dict[str, Callable[[Mapping[str, str]], int]] = {
    "bot": run_bot,
    "console": run_console_mode,
    "auto": run_auto,
    "personalizer": run_personalizer_mode,
}


def main(argv: list[str] | None = None) -> int:
    """Run the mode named on the command line (default: bot); return the exit status."""
    args = sys.argv[1:] if argv is None else argv
    mode = args[0] if args else "bot"
    if mode not in MODES or len(args) > 1:
        sys.stderr.write(f"usage: python app.py [{'|'.join(MODES)}]\n")
        return EXIT_CONFIG
    return MODES[mode](read_environment())


def _load(environ: Mapping[str, str], mode: str) -> Config | None:
    try:
        return load_config(environ, mode)
    except ConfigError as exc:
        sys.stderr.write(f"{exc}\nSet them in the environment or in .env (see .env.example).\n")
        return None


def _services(config: Config) -> Services | None:
    try:
        return build_services(config)
    except MenuError as exc:
        sys.stderr.write(f"Invalid menu: {exc}\n")
        return None


if __name__ == "__main__":
    sys.exit(main())

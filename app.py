"""whatsfordinner's entry point: read the environment, pick the mode, load the Config, run.

python app.py               the Slack bot (Socket Mode with SLACK_APP_TOKEN, else HTTP on $PORT)
python app.py console       the Personalizer quickstart's loop in the terminal, on the same ranker
python app.py auto          the bot if Slack is configured, else the console (what `make run` runs)
python app.py personalizer  the Personalizer-compatible REST service
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from dotenv import dotenv_values

from bot.config import Config, ConfigError, load_config, slack_requested
from bot.menu import DEFAULT_MENU_FILE, MenuError
from bot.services import Services, build_services
from bot.startup import StartupError

EXIT_CONFIG = 2  # missing or invalid settings
SLACK_SDK_LOGGERS = ("slack_sdk.web.base_client", "slack_sdk.webhook.client")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def read_environment() -> dict[str, str]:
    """`.env` from the current directory, overridden by the real environment."""
    values = {k: v for k, v in dotenv_values(Path.cwd() / ".env").items() if v is not None}
    values.update(os.environ)
    return values


def configure_logging(level: str) -> None:
    """Log to stderr once, for the whole process."""
    logging.basicConfig(level=level, format=LOG_FORMAT, stream=sys.stderr)
    # slack_sdk builds its debug lines (each request's and answer's whole body) whenever its own loggers
    # have no level, whatever the root's; with the root's level they are built only when they are logged.
    for name in SLACK_SDK_LOGGERS:
        logging.getLogger(name).setLevel(level)


def run_bot(environ: Mapping[str, str]) -> int:
    """Serve Slack (bot/slack_server.py)."""
    config = _load(environ, "bot")
    if config is None:
        return EXIT_CONFIG
    configure_logging(config.log_level)
    # Bolt reads SLACK_BOT_TOKEN from the process environment by itself and, handed a WebClient as well,
    # warns that the token "will be unused". The Config holds it; child processes need not inherit it.
    os.environ.pop("SLACK_BOT_TOKEN", None)
    services = _services(config)
    if services is None:
        return EXIT_CONFIG
    from bot.slack_server import serve_slack

    return serve_slack(config, services)


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
    """The bot when any Slack setting is present (it names any missing), else a hint and the console."""
    if slack_requested(environ):
        return run_bot(environ)
    sys.stderr.write(
        "Slack is not configured (SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET): see README.md, "
        '"Connect Slack". Starting the terminal conversation instead.\n'
    )
    return run_console_mode(environ)


def run_personalizer_mode(environ: Mapping[str, str]) -> int:
    """The Personalizer-compatible REST service (bot/api/server.py)."""
    config = _load(environ, "personalizer")
    if config is None:
        return EXIT_CONFIG
    configure_logging(config.log_level)
    from bot.api.server import run_personalizer

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
        setting = "" if config.menu_file == DEFAULT_MENU_FILE else " (MENU_FILE)"
        # One line: YAML's own messages point at the spot over several.
        detail = " ".join(line.strip() for line in str(exc).splitlines() if line.strip(" ^"))
        sys.stderr.write(f"Invalid menu{setting}: {detail}\n")
        return None
    except StartupError as exc:  # the database cannot be opened or written
        sys.stderr.write(f"{exc}\n")
        return None


if __name__ == "__main__":
    sys.exit(main())

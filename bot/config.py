"""One frozen Config, built from the environment (and .env) by app.py and validated at start-up."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from bot.menu import DEFAULT_MENU_FILE
from bot.personalizer.local import ENV_VARIABLES as LOOP_ENV_VARIABLES
from bot.personalizer.local import LoopSettings, settings_from_env

DEFAULT_DATABASE_URL = "sqlite:///data/whatsfordinner.db"
DEFAULT_PORT = 3000
BACKENDS = ("local", "azure")
# Share of dinner suggestions that explore (PERSONALIZER_EXPLORATION overrides it): a person sees another
# fitting dish about one suggestion in ten, and a learned favourite the rest of the time; docs/learning.md has the
# learning worlds' figures behind it. The REST service keeps Personalizer's 20%.
BOT_EXPLORATION = 0.1
DEFAULT_EXPLORATION = 0.2

SLACK_VARIABLES = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN")
# Which settings each mode cannot run without (the Personalizer backend adds its own below).
REQUIRED_BY_MODE: dict[str, tuple[str, ...]] = {
    "bot": ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"),
    "console": (),
    "personalizer": ("PERSONALIZER_KEY",),
    "trainer": (),
}


class ConfigError(ValueError):
    """Invalid or missing settings; `problems` lists every one, each naming its variable."""

    def __init__(self, problems: list[str]) -> None:
        if len(problems) == 1:  # one problem, one line
            super().__init__(f"Invalid configuration: {problems[0]}")
        else:
            super().__init__("Invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Config:
    """Everything the app needs from its environment."""

    slack_bot_token: str = ""
    slack_signing_secret: str = ""
    slack_app_token: str = ""
    slack_api_url: str | None = None
    host: str = "0.0.0.0"
    port: int = DEFAULT_PORT
    database_url: str = DEFAULT_DATABASE_URL
    personalizer_backend: str = "local"
    personalizer_endpoint: str = ""
    personalizer_key: str = ""
    menu_file: Path = DEFAULT_MENU_FILE
    log_level: str = "INFO"
    web_concurrency: int = 1
    loop_settings: LoopSettings = field(default_factory=lambda: LoopSettings(model_export_frequency=30.0))
    # The loop-setting fields the environment set explicitly: they win over settings stored in the database.
    loop_settings_explicit: frozenset[str] = frozenset()

    @property
    def socket_mode(self) -> bool:
        """True when the bot connects over Socket Mode instead of serving HTTP."""
        return bool(self.slack_app_token)

    def __repr__(self) -> str:  # never print secrets, even by accident
        return (
            f"Config(backend={self.personalizer_backend!r}, port={self.port}, "
            f"socket_mode={self.socket_mode}, menu_file={str(self.menu_file)!r})"
        )


def load_config(environ: Mapping[str, str], mode: str) -> Config:
    """Build a Config for `mode` (bot, console, personalizer, trainer); ConfigError lists every problem."""
    if mode not in REQUIRED_BY_MODE:
        raise ConfigError([f"unknown mode {mode!r}: use one of {', '.join(REQUIRED_BY_MODE)}"])

    def get(name: str) -> str:
        return environ.get(name, "").strip()

    problems = [f"{name} is not set" for name in REQUIRED_BY_MODE[mode] if not get(name)]

    backend = get("PERSONALIZER_BACKEND").lower() or "local"
    if backend not in BACKENDS:
        problems.append(f"PERSONALIZER_BACKEND={backend!r} is invalid: use local or azure")
    elif backend == "azure" and mode in ("bot", "console"):
        problems += [f"{n} is not set (needed when PERSONALIZER_BACKEND=azure)" for n in _azure_missing(get)]
    endpoint = get("PERSONALIZER_ENDPOINT")
    if endpoint and not _is_http_url(endpoint):
        problems.append(f"PERSONALIZER_ENDPOINT={endpoint!r} is not an http(s) URL")

    api_url = get("SLACK_API_URL") or None
    if api_url and not _is_http_url(api_url):
        problems.append(f"SLACK_API_URL={api_url!r} is not an http(s) URL")
    elif api_url and not api_url.endswith("/"):
        api_url += "/"  # WebClient joins method names onto it

    app_token = get("SLACK_APP_TOKEN")
    if app_token and not app_token.startswith("xapp-"):
        problems.append("SLACK_APP_TOKEN must start with xapp- (an app-level token), or be unset")

    port = _whole_number(get, "PORT", DEFAULT_PORT, 1, 65535, problems)

    database_url = get("DATABASE_URL") or DEFAULT_DATABASE_URL
    database_problem = _database_url_problem(database_url)
    if database_problem:
        problems.append(database_problem)

    menu_file = Path(get("MENU_FILE")) if get("MENU_FILE") else DEFAULT_MENU_FILE
    if not menu_file.is_file():
        problems.append(f"MENU_FILE={str(menu_file)!r}: no such file")

    log_level = get("LOG_LEVEL").upper() or "INFO"
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        problems.append(f"LOG_LEVEL={log_level!r} is invalid: use DEBUG, INFO, WARNING or ERROR")

    web_concurrency = _whole_number(get, "WEB_CONCURRENCY", 1, 1, 64, problems)

    # The bot's suggestions explore less than Personalizer's 20% (docs/learning.md); the service keeps 20%.
    exploration = BOT_EXPLORATION if mode in ("bot", "console") else DEFAULT_EXPLORATION
    loop_settings = LoopSettings(model_export_frequency=30.0, exploration_percentage=exploration)
    try:
        loop_settings = settings_from_env(environ, loop_settings)
    except ValueError as exc:
        problems.append(str(exc))

    if problems:
        raise ConfigError(problems)
    return Config(
        slack_bot_token=get("SLACK_BOT_TOKEN"),
        slack_signing_secret=get("SLACK_SIGNING_SECRET"),
        slack_app_token=app_token,
        slack_api_url=api_url,
        host=get("HOST") or "0.0.0.0",
        port=port,
        database_url=database_url,
        personalizer_backend=backend,
        personalizer_endpoint=endpoint,
        personalizer_key=get("PERSONALIZER_KEY"),
        menu_file=menu_file,
        log_level=log_level,
        web_concurrency=web_concurrency,
        loop_settings=loop_settings,
        loop_settings_explicit=frozenset(f for v, f in LOOP_ENV_VARIABLES.items() if get(v)),
    )


def slack_requested(environ: Mapping[str, str]) -> bool:
    """True when any Slack setting is present: `app.py auto` then runs the bot, which names what is missing."""
    return any(environ.get(name, "").strip() for name in SLACK_VARIABLES)


def _whole_number(
    get: Callable[[str], str], name: str, default: int, low: int, high: int, problems: list[str]
) -> int:
    """The variable as a whole number in low..high, its default when unset; else a problem naming it."""
    raw = get(name)
    if not raw:
        return default
    if raw.isdigit() and low <= int(raw) <= high:
        return int(raw)
    problems.append(f"{name}={raw!r} is invalid: use a whole number {low}..{high}")
    return default


def _database_url_problem(url: str) -> str | None:
    """Why DATABASE_URL cannot work (not a URL, a database SQLAlchemy does not know, a driver not installed)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "DATABASE_URL is not a database URL (e.g. sqlite:///data/whatsfordinner.db)"
    shown = parsed.render_as_string(hide_password=True)
    try:
        dialect = parsed.get_dialect()
    except NoSuchModuleError:
        return f"DATABASE_URL={shown!r} is not a database this app supports: use sqlite:/// or postgresql://"
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        return (
            f"DATABASE_URL={shown!r} needs a database driver that is not installed ({exc.name or exc}): "
            "use sqlite:/// or postgresql://"
        )
    return None


def _azure_missing(get: Callable[[str], str]) -> list[str]:
    return [name for name in ("PERSONALIZER_ENDPOINT", "PERSONALIZER_KEY") if not get(name)]


def _is_http_url(value: str) -> bool:
    parsed = urlparse(value)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)

"""Start-up failures as one line naming the setting to check, instead of a traceback."""

from __future__ import annotations

import re
from urllib.error import URLError

from slack_bolt.error import BoltError
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine, Table, delete, false
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

EXIT_SLACK = 1  # Slack refused the app or could not be reached
EXIT_CONFIG = 2  # a setting is wrong: the database, the menu, a missing variable
DEFAULT_SLACK_API_URL = "https://slack.com/api/"


class StartupError(Exception):
    """The app cannot start: the message names the setting and what to check; exit_status is 1 or 2."""

    def __init__(self, message: str, exit_status: int = EXIT_CONFIG) -> None:
        super().__init__(message)
        self.exit_status = exit_status


def check_database_writable(engine: Engine, table: Table) -> None:
    """Delete nothing from `table` in a transaction: SQLAlchemyError unless the app may write."""
    with engine.begin() as connection:
        connection.execute(delete(table).where(false()))


def database_error(url: str, exc: BaseException) -> StartupError:
    """A StartupError naming DATABASE_URL (password hidden) for a database that cannot be opened or written."""
    shown = make_url(url).render_as_string(hide_password=True)
    reason = _first_line(exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc)
    lowered = reason.lower()
    if "readonly" in lowered or "read-only" in lowered or "permission denied" in lowered:
        return StartupError(
            f"DATABASE_URL={shown!r} is read-only ({reason}): the app writes to it; "
            "check the permissions of the file and its folder, or the database user's grants."
        )
    return StartupError(
        f"DATABASE_URL={shown!r}: cannot open the database ({reason}). "
        "Check that the server is running and the URL's host, port, user and password."
    )


def database_folder_error(url: str, exc: OSError) -> StartupError:
    """A StartupError naming DATABASE_URL for a SQLite file whose folder cannot be created."""
    return StartupError(
        f"DATABASE_URL={url!r}: cannot create the database's folder ({exc.strerror}: {exc.filename}). "
        "Check the path and its permissions."
    )


def slack_error(exc: BaseException, api_url: str | None) -> StartupError | None:
    """What went wrong verifying the bot token (Bolt's auth.test at start-up), or None if it is not that."""
    where = api_url or DEFAULT_SLACK_API_URL
    cause = exc.__context__ if isinstance(exc, BoltError) else exc
    if isinstance(cause, SlackApiError):
        data = cause.response.data if isinstance(cause.response.data, dict) else {}
        error = str(data.get("error", ""))
        if cause.response.status_code == 200 and re.fullmatch(r"[a-z_]+", error):  # Slack's error codes
            return StartupError(
                f"Slack refused the bot token (SLACK_BOT_TOKEN): {error}. "
                "Copy the Bot User OAuth Token from your app's OAuth & Permissions page.",
                EXIT_SLACK,
            )
        return StartupError(
            f"SLACK_API_URL={where!r} did not answer like Slack's Web API: unset it to use Slack's own.",
            EXIT_SLACK,
        )
    if isinstance(cause, URLError | OSError):
        reason = cause.reason if isinstance(cause, URLError) else cause
        return StartupError(
            f"could not reach Slack at SLACK_API_URL={where!r} ({reason}): check the network, "
            "and SLACK_API_URL (unset, it is Slack's own).",
            EXIT_SLACK,
        )
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0].strip()

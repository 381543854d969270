"""Build what the app runs on from a Config: the ranker, the menu and the suggestion store."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.exc import SQLAlchemyError

from bot.config import Config
from bot.db import create_database_engine
from bot.menu import Menu, load_menu
from bot.personalizer.base import Ranker
from bot.personalizer.deadline import RankDeadline
from bot.startup import check_database_writable, database_error, database_folder_error
from bot.suggestions import SuggestionStore, suggestions_table

logger = logging.getLogger(__name__)
RANKER_TIMEOUT = 2.0  # seconds; leaves room under Slack's 3 s for the reply itself


@dataclass
class Services:
    """The ready objects listeners and the console are handed."""

    ranker: Ranker
    menu: Menu
    suggestions: SuggestionStore
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        """Release the ranker and database connections (in reverse order of opening)."""
        for closer in reversed(self.closers):
            try:
                closer()
            except Exception:
                logger.exception("error while shutting down")
        self.closers.clear()


def build_ranker(config: Config, *, run_trainer: bool = True) -> tuple[Ranker, Callable[[], None]]:
    """The configured Ranker backend and how to close it."""
    if config.personalizer_backend == "azure":
        from bot.personalizer.azure import AzureRanker

        azure = AzureRanker(config.personalizer_endpoint, config.personalizer_key, timeout=RANKER_TIMEOUT)
        return azure, _noop
    from bot.personalizer.local import open_learning_loop

    loop = open_learning_loop(
        config.database_url,
        config.loop_settings,
        run_trainer=run_trainer,
        explicit=config.loop_settings_explicit,
    )
    return loop, loop.close


def build_services(config: Config, *, run_trainer: bool = True) -> Services:
    """Load the menu (MenuError if invalid), open the suggestion store and the ranker.

    StartupError, naming DATABASE_URL, if the database cannot be opened or written.
    """
    menu = load_menu(config.menu_file)
    try:
        engine = create_database_engine(config.database_url)
    except OSError as exc:  # the SQLite file's folder cannot be created
        raise database_folder_error(config.database_url, exc) from None
    try:
        suggestions = SuggestionStore(engine)
        suggestions.create_schema()
        check_database_writable(engine, suggestions_table)  # a read-only database fails here, not at a vote
        backend, close_backend = build_ranker(config, run_trainer=run_trainer)
    except SQLAlchemyError as exc:
        engine.dispose()
        raise database_error(config.database_url, exc) from None
    except BaseException:
        engine.dispose()
        raise
    ranker = RankDeadline(backend, RANKER_TIMEOUT)
    closers = [engine.dispose, close_backend, ranker.close]
    return Services(ranker=ranker, menu=menu, suggestions=suggestions, closers=closers)


def _noop() -> None:
    return None

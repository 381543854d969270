"""The service's app (with its dashboard and evaluations) over a fresh learning loop, for the browser tests."""

from __future__ import annotations

from typing import Any

from bot.api.asgi import build_app
from bot.personalizer.local import Evaluations, evaluations_for, open_learning_loop

KEY = "dashboard-test-key"


def build_server_app(database_url: str) -> tuple[Any, Any, Evaluations]:
    """(app, loop, evaluations); the caller starts the evaluations' runner and closes the loop."""
    loop = open_learning_loop(database_url, run_trainer=False)
    evaluations = evaluations_for(loop)
    return build_app(loop, KEY, evaluations=evaluations), loop, evaluations

"""The service's app with its dashboard, over a fresh learning loop, for the browser tests."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette

from bot.api.dashboard.pages import build_dashboard
from bot.personalizer.local.evaluation import Evaluations
from bot.personalizer.loop import open_learning_loop

KEY = "dashboard-test-key"


def build_server_app(database_url: str) -> tuple[Any, Any, Evaluations]:
    """(app, loop, evaluations); the caller starts the evaluations' runner and closes the loop."""
    loop = open_learning_loop(database_url, run_trainer=False)
    evaluations = Evaluations(loop._engine, loop)
    app = Starlette(routes=[build_dashboard(loop, evaluations, KEY)])
    return app, loop, evaluations

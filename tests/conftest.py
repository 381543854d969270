"""Fixtures shared by the whole suite (others may append theirs below)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from slack_sdk.models.blocks import Block, Option
from slack_sdk.models.views import View
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.db import create_database_engine

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100


def _validate_blocks(blocks: list[dict[str, Any]], limit: int = MAX_MESSAGE_BLOCKS) -> None:
    """Every block and every select option valid for slack_sdk; no more blocks than Slack allows."""
    assert isinstance(blocks, list) and blocks, "no blocks"
    assert len(blocks) <= limit, f"{len(blocks)} blocks > {limit}"
    for block in blocks:
        parsed = Block.parse(block)
        assert parsed is not None, f"slack_sdk does not know this block: {block}"
        parsed.validate_json()
        for element in _elements(block):
            for option in element.get("options", []):
                Option(**option).validate_json()
            if "initial_option" in element:
                Option(**element["initial_option"]).validate_json()
                assert element["initial_option"] in element["options"]


def _validate_view(view: dict[str, Any]) -> None:
    """A Home tab or modal valid for slack_sdk, its blocks too."""
    View(**view).validate_json()
    _validate_blocks(view["blocks"], MAX_VIEW_BLOCKS)


def _elements(block: dict[str, Any]) -> list[dict[str, Any]]:
    found = list(block.get("elements", []))
    if "accessory" in block:
        found.append(block["accessory"])
    return [e for e in found if isinstance(e, dict)]


@pytest.fixture(scope="session")
def validate_blocks() -> Callable[..., None]:
    """validate_blocks(blocks): assert a message's blocks are what Slack accepts."""
    return _validate_blocks


@pytest.fixture(scope="session")
def validate_view() -> Callable[[dict[str, Any]], None]:
    """validate_view(view): assert a view (App Home) is what Slack accepts."""
    return _validate_view


@pytest.fixture(scope="session")
def fresh_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], str]]:
    """fresh_database("sqlite" | "postgresql") -> the URL of an empty database of its own.

    PostgreSQL databases are created on TEST_DATABASE_URL's server (the test skips without it) and
    dropped at the end of the session.
    """
    created: list[str] = []
    server = os.environ.get("TEST_DATABASE_URL", "")

    def make(kind: str) -> str:
        name = f"wfd_test_{os.getpid()}_{len(created)}"
        if kind == "sqlite":
            created.append("")
            return f"sqlite:///{tmp_path_factory.mktemp('db') / (name + '.db')}"
        if not server:
            pytest.skip("PostgreSQL tests need TEST_DATABASE_URL (.ci/run sets it)")
        admin = create_database_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
            conn.execute(text(f"CREATE DATABASE {name}"))
        admin.dispose()
        created.append(name)
        return make_url(server).set(database=name).render_as_string(hide_password=False)

    yield make
    names = [n for n in created if n]
    if names:
        admin = create_database_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()

"""Fixtures shared by the whole suite (others may append theirs below)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.models.blocks import Block, Option
from slack_sdk.models.views import View

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


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A DATABASE_URL for a fresh SQLite file."""
    return f"sqlite:///{tmp_path / 'test.db'}"

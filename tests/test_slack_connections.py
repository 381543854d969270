"""How many client connections the bot keeps open: never so many that its file descriptors run out."""

from __future__ import annotations

import resource

import pytest

from bot.slack_connections import connection_limit


@pytest.mark.parametrize(("open_files", "limit"), [(256, 128), (20_000, 1_000), (10, 8)])
def test_the_limit_leaves_half_the_open_files_to_the_rest(
    monkeypatch: pytest.MonkeyPatch, open_files: int, limit: int
) -> None:
    monkeypatch.setattr(resource, "getrlimit", lambda _which: (open_files, open_files))
    assert connection_limit() == limit

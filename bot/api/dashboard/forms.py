"""The dashboard's form fields and times: urlencoded bodies, datetime-local inputs (read as UTC)."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs

from starlette.requests import Request

MAX_FORM_BYTES = 16 * 1024


async def read_form(request: Request) -> dict[str, str]:
    """A urlencoded form's fields (the first value of each), bounded in size."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return {}
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}


def local_time(text: str) -> float:
    """Epoch seconds from a datetime-local input, read as UTC; ValueError."""
    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise ValueError(f"{text!r} is not a date and time") from None


def input_time(epoch: float) -> str:
    """A datetime-local input's value for a moment (UTC)."""
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M")


def when(epoch: float | None) -> str:
    """A moment as the pages show it."""
    return "—" if epoch is None else datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")

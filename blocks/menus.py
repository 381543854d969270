"""The first answer to /whatsfordinner: two menus (taste, time of day) and a Suggest button."""

from __future__ import annotations

from typing import Any

from blocks import ids

Block = dict[str, Any]


def build_option(value: str) -> dict[str, Any]:
    """A static_select option whose label is its value."""
    return {"text": {"type": "plain_text", "text": value[:75]}, "value": value[:150]}


def build_select(action_id: str, placeholder: str, values: list[str], selected: str | None) -> dict[str, Any]:
    """A static_select over `values`, preselecting `selected` when it is one of them."""
    select: dict[str, Any] = {
        "type": "static_select",
        "action_id": action_id,
        "placeholder": {"type": "plain_text", "text": placeholder},
        "options": [build_option(v) for v in values],
    }
    if selected in values:
        select["initial_option"] = build_option(selected)  # type: ignore[arg-type]
    return select


def encode_defaults(taste: str | None, time_of_day: str | None) -> str:
    """The Suggest button's value: the preselected choices, for when state.values omits them."""
    return f"{taste or ''}|{time_of_day or ''}"


def decode_defaults(value: str | None) -> tuple[str | None, str | None]:
    """Inverse of encode_defaults; tolerant of anything else."""
    taste, _, time_of_day = (value or "").partition("|")
    return taste or None, time_of_day or None


def build_menus(
    tastes: list[str],
    times_of_day: list[str],
    selected_taste: str | None = None,
    selected_time: str | None = None,
) -> list[Block]:
    """Menus for taste and time of day (either may be preselected) and a primary Suggest button."""
    return [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "*What's for dinner?* Pick a taste and a time of day."},
        },
        {
            "type": "actions",
            "block_id": ids.MENUS_BLOCK,
            "elements": [
                build_select(ids.TASTE_SELECT, "Taste", tastes, selected_taste),
                build_select(ids.TIME_SELECT, "Time of day", times_of_day, selected_time),
                {
                    "type": "button",
                    "action_id": ids.SUGGEST,
                    "style": "primary",
                    "text": {"type": "plain_text", "text": "Suggest"},
                    "value": encode_defaults(
                        selected_taste if selected_taste in tastes else None,
                        selected_time if selected_time in times_of_day else None,
                    ),
                },
            ],
        },
    ]

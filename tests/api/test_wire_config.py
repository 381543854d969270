"""Durations and date-times as versions write them: .NET TimeSpans (older v1.0 examples) and ISO-8601."""

from __future__ import annotations

import pytest

from bot.api.wire_config import format_datetime, parse_datetime, parse_timespan


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("00:10:00", 600), ("00:00:30", 30), ("1.00:00:00", 86400), ("04:00:00", 14400), ("00:00:02.5", 2.5)],
)
def test_timespans_from_microsofts_examples_are_read(text: str, seconds: float) -> None:
    assert parse_timespan(text) == seconds


@pytest.mark.parametrize("text", ["PT10M", "10", "00:61:00", "1:2:3:4", "", "aa:bb:cc"])
def test_what_is_not_a_timespan_is_left_to_the_iso_parser(text: str) -> None:
    assert parse_timespan(text) is None


def test_azures_date_times_without_an_offset_are_utc() -> None:
    assert format_datetime(parse_datetime("2022-09-01T21:02:42", "x")) == "2022-09-01T21:02:42Z"
    assert parse_datetime("2022-09-01T21:02:42Z", "x") == parse_datetime("2022-09-01T23:02:42+02:00", "x")

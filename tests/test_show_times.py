"""Show times and durations in every spelling SHOW_FORMAT.md promises."""

from datetime import time as dtime

import pytest

from decart_flow.show.times import format_seconds, parse_clock, parse_duration, parse_offset


@pytest.mark.parametrize(
    "text, seconds",
    [
        (90, 90.0),
        (1.5, 1.5),
        ("90", 90.0),
        ("90s", 90.0),
        ("1m30s", 90.0),
        ("1m 30s", 90.0),
        ("500ms", 0.5),
        ("2h", 7200.0),
        ("1h2m3s", 3723.0),
        ("1:30", 90.0),
        ("0:30", 30.0),
        ("1:02:03", 3723.0),
        ("1:30.5", 90.5),
        ("0", 0.0),
    ],
)
def test_offsets(text, seconds):
    assert parse_offset(text) == seconds


@pytest.mark.parametrize("text", ["5x", "", "1:75", "-3", "1s1m", "m", "1m30", True, None, "1:2:3:4", "abc"])
def test_bad_offsets(text):
    with pytest.raises(ValueError, match="use 90, 90s, 1m30s, 500ms, 2h or 1:30"):
        parse_offset(text)


def test_duration_message_is_exact():
    with pytest.raises(ValueError) as e:
        parse_duration("5x")
    assert str(e.value) == "bad duration '5x': use 90, 90s, 1m30s, 500ms, 2h or 1:30"


def test_zero_duration_only_when_allowed():
    with pytest.raises(ValueError, match="more than 0"):
        parse_duration("0s")
    assert parse_duration("0s", allow_zero=True) == 0.0


def test_clock_and_format():
    assert parse_clock("09:00") == dtime(9, 0)
    assert parse_clock("24:00") == dtime(0, 0)
    with pytest.raises(ValueError, match="HH:MM"):
        parse_clock("25:00")
    assert format_seconds(90) == "1:30"
    assert format_seconds(3723.5) == "1:02:03.5"

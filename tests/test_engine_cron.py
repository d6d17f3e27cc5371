"""The fast cron stepper agrees with croniter, DST included."""

from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace

import pytest
from croniter import croniter

from decart_flow.engine.triggers.cron import _Schedule
from decart_flow.show.model import CronTrigger

EXPRS = ["* * * * *", "0 * * * *", "*/7 9-17 * * mon-fri", "30 8 1,15 * 1", "@daily", "5 4 * 2 sun", "0 0 29 2 *",
         "0 12 * * 0,7"]


@pytest.mark.parametrize("expr", EXPRS)
def test_fast_steps_match_croniter(expr):
    start = datetime(2026, 1, 30, 23, 58, 30)
    it = croniter(expr, start)
    fast = _Schedule(CronTrigger(expr, "UTC"), start.replace(tzinfo=timezone.utc))
    expected = [it.get_next(datetime).replace(tzinfo=timezone.utc) for _ in range(300)]
    assert [fast.next() for _ in range(300)] == expected


def test_a_firing_exactly_now_is_upcoming():
    start = datetime(2026, 1, 5, 14, 0, tzinfo=timezone.utc)
    assert _Schedule(CronTrigger("0 * * * *", "UTC"), start).next() == start


def test_unusual_expressions_fall_back_to_croniter():
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    s = _Schedule(CronTrigger("0 0 L * *", "UTC"), start)
    assert s.next() == datetime(2026, 1, 31, tzinfo=timezone.utc)
    assert _Schedule(CronTrigger("0 9 * * 1#2", "UTC"), start).next() == datetime(2026, 1, 12, 9, tzinfo=timezone.utc)


def test_the_hour_spring_forward_skips_does_not_fire_in_a_burst():
    """Paris skips 02:00-03:00 on 2026-03-29: every minute fires once, a minute apart in real time."""
    from zoneinfo import ZoneInfo

    start = datetime(2026, 3, 28, 23, 30, tzinfo=timezone.utc)  # 00:30 in Paris
    s = _Schedule(CronTrigger("* * * * *", "Europe/Paris"), start.astimezone(ZoneInfo("Europe/Paris")))
    times = [s.next().astimezone(timezone.utc) for _ in range(180)]
    gaps = {(b - a).total_seconds() for a, b in zip(times, times[1:])}
    assert gaps == {60.0}
    assert times[0] == start and times[-1] == datetime(2026, 3, 29, 2, 29, tzinfo=timezone.utc)


def test_the_hour_autumn_repeats_fires_once_a_minute_too():
    from zoneinfo import ZoneInfo

    start = datetime(2026, 10, 25, 0, 30, tzinfo=timezone.utc)  # 02:30 CEST, the hour repeats at 03:00
    s = _Schedule(CronTrigger("* * * * *", "Europe/Paris"), start.astimezone(ZoneInfo("Europe/Paris")))
    times = [s.next().astimezone(timezone.utc) for _ in range(120)]
    assert all((b - a).total_seconds() >= 60 for a, b in zip(times, times[1:]))
    assert len(set(times)) == len(times)


ZONES_AND_CHANGES = [
    ("Europe/Paris", datetime(2026, 3, 28, 12)), ("Europe/Paris", datetime(2026, 10, 24, 12)),
    ("America/New_York", datetime(2026, 3, 7, 12)), ("America/St_Johns", datetime(2026, 10, 31, 12)),
    ("Australia/Lord_Howe", datetime(2026, 4, 4, 12)),  # half-hour change at 02:00
    ("Australia/Lord_Howe", datetime(2026, 10, 3, 12)),
    ("Pacific/Apia", datetime(2011, 12, 29, 12)),  # a whole day skipped
    ("Asia/Kolkata", datetime(2026, 1, 1)),
]


@pytest.mark.parametrize("tz, start", ZONES_AND_CHANGES)
@pytest.mark.parametrize("expr", ["* * * * *", "*/7 1-3 * * *", "30 2 * * *"])
def test_instants_match_the_times(tz, start, expr):
    """`next_stamp` (the trigger's: an hour's instant plus whole minutes) is `next().timestamp()`."""
    from zoneinfo import ZoneInfo

    aware = start.replace(tzinfo=ZoneInfo(tz))
    by_time = _Schedule(CronTrigger(expr, tz), aware)
    by_stamp = _Schedule(CronTrigger(expr, tz), aware)
    count = 3000 if expr.startswith("* ") else 200
    assert [by_stamp.next_stamp() for _ in range(count)] == [by_time.next().timestamp() for _ in range(count)]

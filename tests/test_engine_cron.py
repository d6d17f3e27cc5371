"""The fast cron stepper agrees with croniter, DST included."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

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


# ---------------------------------------------------------------- issue 18: each a reproduction

UTC = timezone.utc


def _walls(expr: str, tz: str, start: datetime, count: int) -> list[str]:
    s = _Schedule(CronTrigger(expr, tz), start)
    return [s.next().isoformat() for _ in range(count)]


def test_w_is_the_nearest_weekday_not_a_plain_day():
    # 2026-02-15 is a Sunday: croniter's 15W is Monday the 16th
    assert _walls("0 12 15W * *", "UTC", datetime(2026, 2, 1, tzinfo=UTC), 1) == ["2026-02-16T12:00:00+00:00"]


def test_l_with_a_weekday_is_the_last_such_weekday_of_the_month():
    assert _walls("0 12 * * L5", "UTC", datetime(2026, 2, 1, tzinfo=UTC), 2) == [
        "2026-02-27T12:00:00+00:00", "2026-03-27T12:00:00+00:00"]


def test_only_what_the_fast_stepper_reads_goes_to_it():
    from decart_flow.engine.triggers.cron import plain

    for expr in ("*/5 9-17 * jan-mar mon-fri", "0 0 1,15 * *", "@daily", "5-55/10 * * * sun", "0 12 * jul *"):
        assert plain(expr), expr
    for expr in ("0 12 15W * *", "0 12 * * L5", "0 0 L * *", "0 9 * * 1#2", "0 12 ? * *", "H * * * *",
                 "0 0 * * * *", "@reboot", "0 12 * * lw"):
        assert not plain(expr), expr


def test_a_schedule_made_in_the_repeated_hour_does_not_fire_the_hour_before():
    # Paris, 2026-10-25: 02:00-03:00 happens twice. At 02:30 CET (the second pass) 02:40 and 02:50
    # fired an hour ago (the first pass, CEST): the next firing is 03:00 CET.
    start = datetime.fromisoformat("2026-10-25T02:30:00+01:00")
    assert _walls("*/10 * * * *", "Europe/Paris", start, 2) == ["2026-10-25T03:00:00+01:00", "2026-10-25T03:10:00+01:00"]


def test_plan_in_the_repeated_hour_fires_nothing_at_the_start(tmp_path):
    from decart_flow.engine.plan import plan
    from decart_flow.show import load_show

    path = tmp_path / "s.yaml"
    path.write_text('name: s\nmodel: lucy-restyle-2\ncues:\n  - name: c\n    cron: "*/10 * * * *"\n'
                    '    tz: Europe/Paris\n    prompt: Tick\n')
    rows = [f for f in plan(load_show(path), 40 * 60, datetime.fromisoformat("2026-10-25T02:30:00+01:00")) if f.cue == "c"]
    # before the fix: three more at t=0 (02:30, 02:40, 02:50 CEST, an hour before the start)
    assert [(f.t, f.wall.isoformat()) for f in rows] == [(1800.0, "2026-10-25T03:00:00+01:00")]


def test_a_time_spring_forward_skips_fires_once_at_the_end_of_the_gap():
    # Lord Howe, 2026-10-04: 02:00 jumps to 02:30 (+10:30 -> +11). 02:20 does not exist: it fires
    # at 02:30, never at 02:50, a minute the expression does not contain.
    start = datetime(2026, 10, 4, 0, 0, tzinfo=ZoneInfo("Australia/Lord_Howe"))
    assert _walls("20 * * * *", "Australia/Lord_Howe", start, 4) == [
        "2026-10-04T00:20:00+10:30", "2026-10-04T01:20:00+10:30", "2026-10-04T02:30:00+11:00",
        "2026-10-04T03:20:00+11:00"]
    # Paris skips 02:00-03:00: every time in it comes down to one firing at 03:00 CEST
    start = datetime(2026, 3, 29, 1, 30, tzinfo=ZoneInfo("Europe/Paris"))
    assert _walls("*/20 * * * *", "Europe/Paris", start, 3) == [
        "2026-03-29T01:40:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-29T03:20:00+02:00"]


def test_catch_up_of_a_skipped_time_is_the_end_of_the_gap_not_the_future():
    # at 03:05 CEST the last firing of 02:30 was 03:00 CEST, not 03:30 (still to come)
    s = _Schedule(CronTrigger("30 2 * * *", "Europe/Paris"), datetime.fromisoformat("2026-03-29T03:05:00+02:00"))
    assert [s.prev().isoformat(), s.prev().isoformat()] == ["2026-03-29T03:00:00+02:00", "2026-03-28T02:30:00+01:00"]


def test_catch_up_in_the_repeated_hour_finds_the_first_pass():
    # at 02:30 CET (second pass) the newest firing was 02:50 CEST, half an hour ago
    s = _Schedule(CronTrigger("*/10 * * * *", "Europe/Paris"), datetime.fromisoformat("2026-10-25T02:30:00+01:00"))
    assert s.prev().isoformat() == "2026-10-25T02:50:00+02:00"


@pytest.mark.parametrize("tz, start", ZONES_AND_CHANGES)
@pytest.mark.parametrize("expr", ["* * * * *", "*/7 1-3 * * *", "30 2 * * *", "15,45 * * * *"])
def test_the_fast_stepper_gives_what_croniter_and_the_dst_rule_give(tz, start, expr):
    """`_Days` (an hour's instant plus whole minutes) against croniter's naive steps made instants."""
    from decart_flow.engine.triggers.cron import instant

    zone = ZoneInfo(tz)
    fast = _Schedule(CronTrigger(expr, tz), start.replace(tzinfo=zone))
    it = croniter(expr, start - timedelta(microseconds=1))
    want: list[float] = []
    count = 3000 if expr.startswith("* ") else 200
    while len(want) < count:
        stamp = instant(it.get_next(datetime), zone)
        if not want or stamp > want[-1]:
            want.append(stamp)
    assert [fast.next_stamp() for _ in range(count)] == want

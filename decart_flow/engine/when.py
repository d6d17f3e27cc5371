"""`when:` windows on the wall clock. A window that crosses midnight belongs to the day it opens."""

from __future__ import annotations

from datetime import datetime, time as dtime

from ..show.model import DAYS, When


def inside(when: When | None, wall: datetime) -> bool:
    if when is None:
        return True
    day = DAYS[wall.weekday()]
    yesterday = DAYS[(wall.weekday() - 1) % 7]
    days = when.days or frozenset(DAYS)
    if not when.between:
        return day in days
    now = wall.time().replace(tzinfo=None)
    return any(_in_window(start, end, now, day in days, yesterday in days) for start, end in when.between)


def _in_window(start: dtime, end: dtime, now: dtime, today_ok: bool, yesterday_ok: bool) -> bool:
    if start == end:  # a full day
        return today_ok
    if start < end:
        return today_ok and start <= now < end
    return (today_ok and now >= start) or (yesterday_ok and now < end)

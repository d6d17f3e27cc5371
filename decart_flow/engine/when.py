"""`when:` windows on the wall clock. A window that crosses midnight belongs to the day it opens.

A window reads the wall clock in its own zone (the cue's `tz`, else the show's, else the machine's),
whatever zone the clock that asks is in: `plan --start 12:00+01:00` names an instant, and `plan`
reads the window as `run` would.
"""

from __future__ import annotations

import os
from datetime import datetime, time as dtime, tzinfo
from functools import lru_cache

from ..show.model import DAYS, When
from .clock import zone


@lru_cache(maxsize=64)
def _zone(name: str | None, tz_env: str | None) -> tzinfo:
    return zone(name)  # the local zone (name None) as $TZ says: `tz_env` is the cache's key


def when_zone(when: When) -> tzinfo:
    return _zone(when.tz, None if when.tz else os.environ.get("TZ"))


def inside(when: When | None, wall: datetime) -> bool:
    if when is None:
        return True
    tz = when_zone(when)
    if wall.tzinfo is not tz:
        wall = wall.astimezone(tz)
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

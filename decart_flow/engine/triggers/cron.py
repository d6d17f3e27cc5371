"""`cron: EXPR` with an optional `tz`: the wall clock, by croniter. Never pauses with the show."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone, tzinfo
from functools import partial

import reactivex
from croniter import croniter
from reactivex.disposable import Disposable

from ...show.model import CronTrigger
from ..clock import zone
from ..lookahead import Lead, call_ahead
from . import Fire, TriggerContext, TriggerType, new_fire

_TICK = timedelta(microseconds=1)


class _Days:
    """A fast `next` for plain five-field expressions: the matching times of each day, once.

    croniter costs ~70 us a step, too slow for a month of a once-a-minute cue in `plan`. Anything
    unusual (L, W, #, seconds) is left to croniter.
    """

    def __init__(self, expr: str, start: datetime, tz: tzinfo | None = None) -> None:
        """`start` naive; `get_next` gives times in `tz` (aware, or naive when None)."""
        self.tz = tz
        fields = croniter(expr).expanded
        if len(fields) != 5 or "#" in expr or any(not isinstance(v, int) and v != "*" for f in fields for v in f):
            raise ValueError("not a plain expression")
        minutes, hours, self.doms, self.months, self.dows = (None if f == ["*"] else set(f) for f in fields)
        self.times = [(h, m) for h in (sorted(hours) if hours else range(24))
                      for m in (sorted(minutes) if minutes else range(60))]
        self.day = start.date()
        self._ymd = (self.day.year, self.day.month, self.day.day)
        after = (start.hour, start.minute) if start.second == 0 and start.microsecond == 0 else (start.hour, start.minute + 0.5)
        self.queue = [t for t in self._times_of(self.day) if t > after]
        self.queue.reverse()
        self._hours: dict[int, float] = {}  # the day's hours: the instant of :00, or nan (see `get_next_stamp`)

    def _matches(self, day) -> bool:  # type: ignore[no-untyped-def]
        if self.months and day.month not in self.months:
            return False
        dom_ok = self.doms is None or day.day in self.doms
        dow_ok = self.dows is None or (day.weekday() + 1) % 7 in self.dows or (day.weekday() == 6 and 7 in self.dows)
        if self.doms is not None and self.dows is not None:
            return dom_ok or dow_ok  # cron's rule when both are restricted
        return dom_ok and dow_ok

    def _times_of(self, day) -> list[tuple[int, int]]:  # type: ignore[no-untyped-def]
        return self.times if self._matches(day) else []

    def get_next(self) -> datetime:
        h, m = self._pop()
        y, mo, d = self._ymd
        return datetime(y, mo, d, h, m, 0, 0, self.tz)

    def get_next_stamp(self) -> float:
        """`get_next().timestamp()`, without a datetime and a zone lookup a minute.

        Within an hour whose :00 and :59 are 59 minutes apart as instants, the UTC offset is one
        and the same, so a minute's instant is the hour's plus whole minutes. An hour that a change
        of offset cuts (or a zone without whole-hour changes) is worked out a minute at a time.
        """
        h, m = self._pop()
        base = self._hours.get(h)
        if base is None:
            y, mo, d = self._ymd
            first = datetime(y, mo, d, h, 0, 0, 0, self.tz).timestamp()
            last = datetime(y, mo, d, h, 59, 0, 0, self.tz).timestamp()
            self._hours[h] = base = first if last - first == 3540.0 else math.nan
        if base == base:  # not nan: one offset all hour
            return base + m * 60.0
        y, mo, d = self._ymd
        return datetime(y, mo, d, h, m, 0, 0, self.tz).timestamp()

    def _pop(self) -> tuple[int, int]:
        for _ in range(3000):  # a few years of days without a match: an impossible date
            if self.queue:
                return self.queue.pop()
            self.day += timedelta(days=1)
            self._ymd = (self.day.year, self.day.month, self.day.day)
            self.queue = list(reversed(self._times_of(self.day)))
            self._hours.clear()
        raise ValueError("no matching time")


class _Schedule:
    """croniter over naive local time in the cue's zone, made aware afterwards.

    (croniter's own aware iteration skips the hour after a spring-forward gap.) A time in the gap
    lands after it, on a time already due: the duplicate is dropped. In the autumn the repeated
    hour fires once, as cron does.
    """

    def __init__(self, trigger: CronTrigger, now: datetime) -> None:
        self.tz = zone(trigger.tz)
        local = now.astimezone(self.tz) - _TICK  # a firing exactly at "now" still counts as upcoming
        naive = local.replace(tzinfo=None)
        self._it = croniter(trigger.expr, naive)
        self._next = lambda: self._it.get_next(datetime).replace(tzinfo=self.tz)
        self._next_stamp = lambda: self._next().timestamp()
        try:
            days = _Days(trigger.expr, naive, self.tz)
            self._next, self._next_stamp = days.get_next, days.get_next_stamp
        except ValueError:
            pass
        self._last_stamp = -math.inf  # the instant of the last time given
        self._first: datetime | None = None

    def next(self) -> datetime:
        while True:
            aware = self._next()
            # As instants: two times of one zone compare as local clock readings, so an hour that
            # spring-forward skips would look later than the hour after it and fire in a burst.
            stamp = aware.timestamp()
            if stamp > self._last_stamp:
                self._last_stamp = stamp
                return aware

    def next_stamp(self) -> float:
        """`next().timestamp()`: all the trigger needs, and cheaper (see `_Days.get_next_stamp`)."""
        while True:
            stamp = self._next_stamp()
            if stamp > self._last_stamp:
                self._last_stamp = stamp
                return stamp

    def prev(self) -> datetime:
        while True:
            aware = self._it.get_prev(datetime).replace(tzinfo=self.tz)
            if self._first is None or aware.astimezone(timezone.utc) < self._first.astimezone(timezone.utc):
                self._first = aware
                return aware


def observe(trigger: CronTrigger, ctx: TriggerContext, lead: Lead | None = None) -> reactivex.Observable[Fire]:
    def subscribe(observer, scheduler=None):  # type: ignore[no-untyped-def]
        clock = ctx.clock
        schedule = _Schedule(trigger, clock.wall())
        handle = None

        def plan() -> None:
            nonlocal handle
            due = clock.mono_for_stamp(schedule.next_stamp())
            if lead is None:  # `call_ahead` without a lead, without the hop
                handle = clock.call_at(due, partial(fire, due, 0.0))
            else:
                handle = call_ahead(clock.call_at, due, lead, partial(fire, due))  # fire(due, ahead)

        def fire(due: float, ahead: float) -> None:
            observer.on_next(new_fire((due, None, (), None, ahead)))  # Fire(due, lead=ahead)
            plan()

        plan()
        return Disposable(lambda: handle is not None and handle.cancel())

    return reactivex.create(subscribe)


def next_fire(trigger: CronTrigger, ctx: TriggerContext):  # type: ignore[no-untyped-def]
    return (None, _Schedule(trigger, ctx.clock.wall()).next())


def last_fire(trigger: CronTrigger, ctx: TriggerContext) -> datetime:
    return _Schedule(trigger, ctx.clock.wall()).prev()


def previous(trigger: CronTrigger, ctx: TriggerContext, count: int) -> list[datetime]:
    """The last `count` firings before now, newest first (catch-up skips those outside `when`)."""
    schedule = _Schedule(trigger, ctx.clock.wall())
    return [schedule.prev() for _ in range(count)]


TYPE = TriggerType(observe, next_fire=next_fire, last_fire=last_fire)

"""`cron: EXPR` with an optional `tz`: the wall clock, by croniter. Never pauses with the show."""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone, tzinfo
from functools import partial
from typing import TYPE_CHECKING, Any, Iterator

import reactivex
from croniter import croniter
from reactivex.disposable import Disposable

from ...show import checks
from ...show.model import CronTrigger
from ..clock import zone
from ..lookahead import Lead, call_ahead
from . import Fire, TriggerContext, TriggerKind

if TYPE_CHECKING:
    from ...show.reading import Found, Reader
    from ...show.model import Where

_LOOKBACK = 50  # firings catch-up looks back through for one inside the cue's `when`


def read(c: Reader, found: Found) -> CronTrigger | None:
    """`cron: EXPR`, read in the cue's `tz:`, else the show's."""
    value = found["cron"][1]
    expr = c.text(value, "cron")
    if expr is None:
        if value.is_scalar:
            c.error(value.where, "cron: give an expression such as \"0 * * * *\"")
        return None
    problem = checks.cron_problem(expr)
    if problem:
        c.error(value.where, problem)
        return None
    return CronTrigger(expr.strip(), c.cue_tz(found) or c.tz)


def build(show: Any, where: Where, expr: str, *actions: Any, tz: str | None = None, **options: Any) -> None:
    """`show.cron(expr, *actions, tz=)`: a wall-clock cue (five cron fields or @hourly and friends)."""
    show.add_cue(where, [("cron", expr)] + ([("tz", tz)] if tz is not None else []), actions, options)

_TICK = timedelta(microseconds=1)

# What `_Days` reads itself: numbers, names, `*`, ranges, lists and steps. Everything else croniter
# reads (L, W, #, ?, H, seconds) goes to croniter whole: `_Days` must never half-understand it.
_MONTHS = frozenset("jan feb mar apr may jun jul aug sep oct nov dec".split())
_WEEKDAYS = frozenset("sun mon tue wed thu fri sat".split())
_FIELD_NAMES = {3: _MONTHS, 4: _WEEKDAYS}
_ITEM = re.compile(r"(\*|\d+|[a-z]{3})(?:-(\d+|[a-z]{3}))?(?:/\d+)?")
_ALIASES = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"})


def plain(expr: str) -> bool:
    """True when every field is made of what `_Days` reads (and nothing croniter reads more into)."""
    text = expr.strip().lower()
    if text.startswith("@"):
        return text in _ALIASES
    fields = text.split()
    if len(fields) != 5:
        return False
    for i, field in enumerate(fields):
        for item in field.split(","):
            m = _ITEM.fullmatch(item)
            if m is None:
                return False
            for word in m.group(1, 2):
                if word and word.isalpha() and word not in _FIELD_NAMES.get(i, ()):
                    return False
    return True


def instant(naive: datetime, tz: tzinfo) -> float:
    """The POSIX time at which cron fires for the wall reading `naive` in `tz`, as Vixie cron does.

    A reading that a fall-back repeats is its first occurrence (fold=0); a reading that a
    spring-forward skips is the end of the gap, the instant of the change.
    """
    stamp = naive.replace(tzinfo=tz).timestamp()
    if datetime.fromtimestamp(stamp, tz).replace(tzinfo=None) == naive:
        return stamp
    return _change_at(stamp, naive.replace(tzinfo=tz).utcoffset(), tz)  # type: ignore[arg-type]


def _change_at(stamp: float, before: timedelta, tz: tzinfo) -> float:
    """The instant of the change of offset that made a gap, for a time in it read with `before`.

    In a gap, fold=0 reads the time with the offset before the change, so `stamp` is at or after
    the change and `stamp - (after - before)` is before it: halve that span to the second.
    """
    after = datetime.fromtimestamp(stamp, tz).utcoffset()
    lo, hi = math.floor(stamp - (after - before).total_seconds()), math.ceil(stamp)  # type: ignore[operator]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, tz).utcoffset() == after:
            hi = mid
        else:
            lo = mid
    return float(hi)


class _Days:
    """A fast `next` for plain five-field expressions: the matching times of each day, once.

    croniter costs ~70 us a step, too slow for a month of a once-a-minute cue in `plan`. Only an
    expression that `plain` accepts comes here; the rest is croniter's.
    """

    def __init__(self, expr: str, start: datetime, tz: tzinfo) -> None:
        """`start` naive; `get_next_stamp` gives instants of times in `tz`."""
        self.tz = tz
        if not plain(expr):
            raise ValueError("not a plain expression")
        it = croniter(expr)
        fields = it.expanded
        if (len(fields) != 5 or it.nth_weekday_of_month or getattr(it, "nearest_weekday", None)
                or any(not isinstance(v, int) and v != "*" for f in fields for v in f)):
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

    def get_next_stamp(self) -> float:
        """The instant of the next matching wall time (see `instant`), a minute without a zone lookup.

        Within an hour whose :00 and :59 both exist, once each as read, and are 59 minutes apart
        as instants, the UTC offset is one and the same, so a minute's instant is the hour's plus
        whole minutes. An hour that a change of offset cuts (or a zone without whole-hour changes)
        is worked out a minute at a time.
        """
        h, m = self._pop()
        base = self._hours.get(h)
        if base is None:
            y, mo, d = self._ymd
            tz = self.tz
            first = datetime(y, mo, d, h, 0, 0, 0, tz).timestamp()
            last = datetime(y, mo, d, h, 59, 0, 0, tz).timestamp()
            a, b = datetime.fromtimestamp(first, tz), datetime.fromtimestamp(last, tz)
            clean = last - first == 3540.0 and (a.day, a.hour, a.minute) == (d, h, 0) and (b.day, b.hour, b.minute) == (d, h, 59)
            self._hours[h] = base = first if clean else math.nan
        if base == base:  # not nan: one offset all hour
            return base + m * 60.0
        y, mo, d = self._ymd
        return instant(datetime(y, mo, d, h, m), self.tz)

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
    """croniter over naive wall readings in the cue's zone, each made an instant by `instant`.

    (croniter's own aware iteration fires a time that fall-back repeats twice; the contract is
    Vixie cron's: once, the first time.) Every time skipped by spring-forward lands on the end of
    the gap, where the cue fires once; an instant at or before the last one given, or before
    `now` (a schedule made inside a repeated hour), is dropped.
    """

    def __init__(self, trigger: CronTrigger, now: datetime) -> None:
        self.tz = tz = zone(trigger.tz)
        self.expr = trigger.expr
        self._now = now
        self._now_stamp = now.timestamp()
        local = now.astimezone(tz) - _TICK  # a firing exactly at "now" still counts as upcoming
        naive = local.replace(tzinfo=None)
        try:
            self._next_stamp = _Days(trigger.expr, naive, tz).get_next_stamp
        except ValueError:
            it = croniter(trigger.expr, naive)
            self._next_stamp = lambda: instant(it.get_next(datetime), tz)
        self._last_stamp = self._now_stamp - 1e-6  # "now" counts as upcoming; nothing before it
        self._prev: croniter | None = None  # `prev`'s own walk back, made when first asked
        self._first = self._now_stamp  # the instant of the last time `prev` gave

    def next(self) -> datetime:
        return datetime.fromtimestamp(self.next_stamp(), self.tz)

    def next_stamp(self) -> float:
        """The instant of the next firing: one a time, each later than the last, none before now."""
        while True:
            stamp = self._next_stamp()
            if stamp > self._last_stamp:
                self._last_stamp = stamp
                return stamp

    def prev(self) -> datetime:
        """The firings strictly before now, newest first (a firing at "now" is `next`'s)."""
        if self._prev is None:
            now = self._now.astimezone(self.tz)
            # "now" read with the earlier offset: inside a repeated hour's second pass, the first
            # pass's later times have fired already
            naive = (self._now.astimezone(timezone.utc) + now.replace(fold=0).utcoffset()).replace(tzinfo=None)
            self._prev = croniter(self.expr, naive + _TICK)
        while True:
            stamp = instant(self._prev.get_prev(datetime), self.tz)
            if stamp < self._first:
                self._first = stamp
                return datetime.fromtimestamp(stamp, self.tz)


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
            observer.on_next(Fire(due, None, (), None, ahead))
            plan()

        plan()
        return Disposable(lambda: handle is not None and handle.cancel())

    return reactivex.create(subscribe)


def next_fire(trigger: CronTrigger, ctx: TriggerContext):  # type: ignore[no-untyped-def]
    return (None, _Schedule(trigger, ctx.clock.wall()).next())


def last_walls(trigger: CronTrigger, ctx: TriggerContext) -> Iterator[datetime]:
    """The last firings before now, newest first, as they are asked for (catch-up takes the first
    inside the cue's `when`: usually the first)."""
    schedule = _Schedule(trigger, ctx.clock.wall())
    for _ in range(_LOOKBACK):
        yield schedule.prev()


def due_now(trigger: CronTrigger, ctx: TriggerContext) -> bool:
    now = ctx.clock.wall()
    return _Schedule(trigger, now).next_stamp() == now.timestamp()


KIND = TriggerKind(CronTrigger, "cron", read, observe, python="cron", build=build, zoned=True, wall_clock=True,
                   next_fire=next_fire, last_walls=last_walls, due_now=due_now)

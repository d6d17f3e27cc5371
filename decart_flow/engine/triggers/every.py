"""`every: D` from `from` (default 0), before `until`, at most `times` firings: a grid in show time.

The n-th slot is at `start + n * interval` whatever happened before, so a jump of the show clock
lands back on the grid and `times` still counts right. With `when` beside `times`, `times` counts
the firings that happened: a slot outside the window is passed over and not counted (the slots
before the current one are read on the wall clock as it maps to show time now).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import reactivex
from reactivex.disposable import Disposable

from ...show.model import EveryTrigger, When
from ...show.times import format_seconds
from ..lookahead import Lead, call_ahead
from ..showclock import EPS
from ..when import inside
from . import Fire, TriggerContext, TriggerKind, show_time_due, show_time_walls

if TYPE_CHECKING:
    from ...show.reading import Found, Reader
    from ...show.model import Where


def read(c: Reader, found: Found) -> EveryTrigger | None:
    """`every: D` with `from:`, `until:` and `times:` beside it."""
    interval = c.duration(found["every"][1])
    start = c.offset(found["from"][1]) if "from" in found else 0.0
    until = c.offset(found["until"][1]) if "until" in found else None
    times = read_times(c, found)
    if start is not None and until is not None and until <= start:
        c.error(found["until"][1].where, f"until ({format_seconds(until)}) must come after from ({format_seconds(start)})")
    if interval is None or start is None:
        return None
    return EveryTrigger(interval, start, until, times)


def read_times(c: Reader, found: Found) -> int | None:
    """`times: N` (a whole number above 0), or None; beat_every.py reads it the same way."""
    if "times" not in found:
        return None
    node = found["times"][1]
    if node.is_scalar and isinstance(node.value, int) and not isinstance(node.value, bool) and node.value > 0:
        return node.value
    c.error(node.where, "times: a whole number above 0")
    return None


def with_when(trigger: EveryTrigger, when: When) -> EveryTrigger:
    """`times` counts the firings `when` let through, so the trigger carries its cue's `when`."""
    return replace(trigger, when=when) if trigger.times is not None else trigger


def build(show: Any, where: Where, interval: str | float, *actions: Any, start: Any = None, until: Any = None,
          times: int | None = None, **options: Any) -> None:
    """`show.every(interval, *actions, start=, until=, times=)`: at `start` and every `interval` after."""
    trigger = [("every", interval), ("from", start), ("until", until), ("times", times)]
    show.add_cue(where, [(k, v) for k, v in trigger if v is not None], actions, options)


def _index_at(trigger: EveryTrigger, t: float) -> int:
    """The index of the first firing at or after show time `t`."""
    return max(0, math.ceil((t - trigger.start - EPS) / trigger.interval))


def _allowed(trigger: EveryTrigger, n: int) -> bool:
    if trigger.times is not None and n >= trigger.times:
        return False
    t = trigger.start + n * trigger.interval
    return trigger.until is None or t < trigger.until - EPS


def _count(trigger: EveryTrigger) -> float:
    """How many firings the grid has (`times`, `until`), or infinity."""
    count = math.inf if trigger.times is None else trigger.times
    if trigger.until is not None:
        count = min(count, max(0, math.ceil((trigger.until - EPS - trigger.start) / trigger.interval)))
    while count > 0 and count != math.inf and not _allowed(trigger, int(count) - 1):  # float edges
        count -= 1
    while count != math.inf and _allowed(trigger, int(count)):
        count += 1
    return count


def _happened(trigger: EveryTrigger, ctx: TriggerContext, n: int) -> tuple[int, int]:
    """(how many of the slots before `n` fired, the index of the last that did or -1), for `times`
    with `when`: each slot is read on the wall clock at its show time."""
    sc, clock = ctx.show_clock, ctx.clock
    done, last = 0, -1
    for i in range(n):
        if done >= trigger.times:  # type: ignore[operator]
            break
        if inside(trigger.when, clock.wall_at(sc.mono_of(trigger.start + i * trigger.interval))):
            done, last = done + 1, i
    return done, last


def observe(trigger: EveryTrigger, ctx: TriggerContext, lead: Lead | None = None) -> reactivex.Observable[Fire]:
    if trigger.when is not None and trigger.times is not None:
        return _observe_counted(trigger, ctx, lead)
    return _observe(trigger, ctx, lead)


def _observe_counted(trigger: EveryTrigger, ctx: TriggerContext, lead: Lead | None) -> reactivex.Observable[Fire]:
    """`times` with `when`: a slot fires only inside the window, and only those count."""
    def subscribe(observer, scheduler=None):  # type: ignore[no-untyped-def]
        sc, clock, when, times = ctx.show_clock, ctx.clock, trigger.when, trigger.times
        n = _index_at(trigger, sc.planning_t)
        done = _happened(trigger, ctx, n)[0]
        until = math.inf if trigger.until is None else trigger.until - EPS
        start, interval = trigger.start, trigger.interval
        timer = None

        def plan() -> None:
            nonlocal timer
            if done >= times or start + n * interval >= until:  # type: ignore[operator]
                observer.on_completed()
                return
            timer = sc.call_at(start + n * interval, fire) if lead is None else \
                call_ahead(sc.call_at, start + n * interval, lead, fire)

        def fire(ahead: float = 0.0) -> None:
            nonlocal n, done
            t = start + n * interval
            n += 1
            if inside(when, clock.wall()):  # the engine asks the same of the same instant
                done += 1
                observer.on_next(Fire(sc.mono_of(t), t, (), None, ahead))
            plan()

        plan()
        return Disposable(lambda: timer is not None and timer.cancel())

    return reactivex.create(subscribe)


def _observe(trigger: EveryTrigger, ctx: TriggerContext, lead: Lead | None = None) -> reactivex.Observable[Fire]:
    def subscribe(observer, scheduler=None):  # type: ignore[no-untyped-def]
        sc = ctx.show_clock
        n = _index_at(trigger, sc.planning_t)
        count = _count(trigger)
        start, interval = trigger.start, trigger.interval
        timer = None

        def plan() -> None:
            nonlocal timer
            if n >= count:
                observer.on_completed()
                return
            timer = sc.call_at(start + n * interval, fire, again=True) if lead is None else \
                call_ahead(sc.call_at, start + n * interval, lead, fire)

        def fire(ahead: float = 0.0) -> float | None:
            nonlocal n
            t = start + n * interval
            n += 1
            observer.on_next(Fire(sc.mono_of(t), t, (), None, ahead))
            if lead is None and n < count:  # `plan()` for the usual case: the show clock sets `timer` again
                return start + n * interval
            plan()
            return None

        plan()
        return Disposable(lambda: timer is not None and timer.cancel())

    return reactivex.create(subscribe)


def next_fire(trigger: EveryTrigger, ctx: TriggerContext):  # type: ignore[no-untyped-def]
    n = _index_at(trigger, ctx.show_clock.planning_t)
    if trigger.when is not None and trigger.times is not None:
        if _happened(trigger, ctx, n)[0] >= trigger.times:
            return None
        t = trigger.start + n * trigger.interval
        return (t, None) if trigger.until is None or t < trigger.until - EPS else None
    return (trigger.start + n * trigger.interval, None) if _allowed(trigger, n) else None


def last_fire(trigger: EveryTrigger, ctx: TriggerContext) -> float | None:
    if trigger.when is not None and trigger.times is not None:
        n = _index_at(trigger, ctx.show_clock.planning_t)
        if trigger.until is not None:
            n = min(n, math.ceil((trigger.until - trigger.start - EPS) / trigger.interval))
        last = _happened(trigger, ctx, n)[1]
        return trigger.start + last * trigger.interval if last >= 0 else None
    n = _index_at(trigger, ctx.show_clock.planning_t) - 1
    if trigger.times is not None:
        n = min(n, trigger.times - 1)
    if trigger.until is not None:
        n = min(n, math.ceil((trigger.until - trigger.start - EPS) / trigger.interval) - 1)
    return trigger.start + n * trigger.interval if n >= 0 else None


KIND = TriggerKind(EveryTrigger, "every", read, observe, companions=("from", "until", "times"), python="every",
                   build=build, with_when=with_when, show_time=True, next_fire=next_fire,
                   last_walls=show_time_walls(last_fire), due_now=show_time_due(next_fire))

"""`every: D` from `from` (default 0), before `until`, at most `times` firings: a grid in show time.

The n-th firing is at `start + n * interval` whatever happened before, so a jump of the show clock
lands back on the grid and `times` still counts right.
"""

from __future__ import annotations

import math

import reactivex
from reactivex.disposable import Disposable

from ...show.model import EveryTrigger
from ..lookahead import Lead, call_ahead
from ..showclock import EPS
from . import Fire, TriggerContext, TriggerType, new_fire


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


def observe(trigger: EveryTrigger, ctx: TriggerContext, lead: Lead | None = None) -> reactivex.Observable[Fire]:
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
            observer.on_next(new_fire((sc._origin + t, t, (), None, ahead)))  # sc.mono_of(t), inline
            if lead is None and n < count:  # `plan()` for the usual case: the show clock sets `timer` again
                return start + n * interval
            plan()
            return None

        plan()
        return Disposable(lambda: timer is not None and timer.cancel())

    return reactivex.create(subscribe)


def next_fire(trigger: EveryTrigger, ctx: TriggerContext):  # type: ignore[no-untyped-def]
    n = _index_at(trigger, ctx.show_clock.planning_t)
    return (trigger.start + n * trigger.interval, None) if _allowed(trigger, n) else None


def last_fire(trigger: EveryTrigger, ctx: TriggerContext) -> float | None:
    n = _index_at(trigger, ctx.show_clock.planning_t) - 1
    if trigger.times is not None:
        n = min(n, trigger.times - 1)
    if trigger.until is not None:
        n = min(n, math.ceil((trigger.until - trigger.start - EPS) / trigger.interval) - 1)
    return trigger.start + n * trigger.interval if n >= 0 else None


TYPE = TriggerType(observe, show_time=True, next_fire=next_fire, last_fire=last_fire)

"""`at: T`: once, at show time T (or at once after a jump that lands exactly on T)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import reactivex
from reactivex.disposable import Disposable

from ...show.model import AtTrigger
from ..lookahead import Lead, call_ahead
from ..showclock import EPS
from . import Fire, TriggerContext, TriggerKind, show_time_due, show_time_walls

if TYPE_CHECKING:
    from ...show.reading import Found, Reader
    from ...show.model import Where


def read(c: Reader, found: Found) -> AtTrigger | None:
    t = c.offset(found["at"][1])
    return AtTrigger(t) if t is not None else None


def build(show: Any, where: Where, t: str | float, *actions: Any, **options: Any) -> None:
    """`show.at(t, *actions, **options)`: a cue that fires once at show time `t`."""
    show.add_cue(where, [("at", t)], actions, options)


def observe(trigger: AtTrigger, ctx: TriggerContext, lead: Lead | None = None) -> reactivex.Observable[Fire]:
    def subscribe(observer, scheduler=None):  # type: ignore[no-untyped-def]
        sc = ctx.show_clock
        if trigger.t < sc.planning_t - EPS:
            observer.on_completed()
            return Disposable()

        def fire(ahead: float) -> None:
            observer.on_next(Fire(sc.mono_of(trigger.t), trigger.t, lead=ahead))
            observer.on_completed()

        return Disposable(call_ahead(sc.call_at, trigger.t, lead, fire).cancel)

    return reactivex.create(subscribe)


def next_fire(trigger: AtTrigger, ctx: TriggerContext):  # type: ignore[no-untyped-def]
    return (trigger.t, None) if trigger.t >= ctx.show_clock.planning_t - EPS else None


def last_fire(trigger: AtTrigger, ctx: TriggerContext) -> float | None:
    return trigger.t if trigger.t < ctx.show_clock.planning_t - EPS else None


KIND = TriggerKind(AtTrigger, "at", read, observe, python="at", build=build, show_time=True, next_fire=next_fire,
                   last_walls=show_time_walls(last_fire), due_now=show_time_due(next_fire))

"""`cron: EXPR` with an optional `tz`: the wall clock, by croniter. Never pauses with the show."""

from __future__ import annotations

from datetime import datetime, timedelta

import reactivex
from croniter import croniter
from reactivex.disposable import Disposable

from ...show.model import CronTrigger
from ..clock import zone
from . import Fire, TriggerContext, TriggerType

_TICK = timedelta(microseconds=1)


def _iter(trigger: CronTrigger, ctx: TriggerContext) -> croniter:
    # A firing exactly at "now" still counts as upcoming: start a hair before now.
    return croniter(trigger.expr, ctx.clock.wall().astimezone(zone(trigger.tz)) - _TICK)


def observe(trigger: CronTrigger, ctx: TriggerContext) -> reactivex.Observable[Fire]:
    def subscribe(observer, scheduler=None):  # type: ignore[no-untyped-def]
        clock = ctx.clock
        it = _iter(trigger, ctx)
        handle = None

        def plan() -> None:
            nonlocal handle
            due = clock.mono_for(it.get_next(datetime))
            handle = clock.call_at(due, lambda: fire(due))

        def fire(due: float) -> None:
            observer.on_next(Fire(due))
            plan()

        plan()
        return Disposable(lambda: handle is not None and handle.cancel())

    return reactivex.create(subscribe)


def next_fire(trigger: CronTrigger, ctx: TriggerContext):  # type: ignore[no-untyped-def]
    return (None, _iter(trigger, ctx).get_next(datetime))


def last_fire(trigger: CronTrigger, ctx: TriggerContext) -> datetime:
    return _iter(trigger, ctx).get_prev(datetime)


def previous(trigger: CronTrigger, ctx: TriggerContext, count: int) -> list[datetime]:
    """The last `count` firings before now, newest first (catch-up skips those outside `when`)."""
    it = _iter(trigger, ctx)
    return [it.get_prev(datetime) for _ in range(count)]


TYPE = TriggerType(observe, next_fire=next_fire, last_fire=last_fire)

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


class _Schedule:
    """croniter over naive local time in the cue's zone, made aware afterwards.

    (croniter's own aware iteration skips the hour after a spring-forward gap.) A time in the gap
    lands after it, on a time already due: the duplicate is dropped. In the autumn the repeated
    hour fires once, as cron does.
    """

    def __init__(self, trigger: CronTrigger, now: datetime) -> None:
        self.tz = zone(trigger.tz)
        local = now.astimezone(self.tz) - _TICK  # a firing exactly at "now" still counts as upcoming
        self._it = croniter(trigger.expr, local.replace(tzinfo=None))
        self._last: datetime | None = None
        self._first: datetime | None = None

    def next(self) -> datetime:
        while True:
            aware = self._it.get_next(datetime).replace(tzinfo=self.tz)
            if self._last is None or aware > self._last:
                self._last = aware
                return aware

    def prev(self) -> datetime:
        while True:
            aware = self._it.get_prev(datetime).replace(tzinfo=self.tz)
            if self._first is None or aware < self._first:
                self._first = aware
                return aware


def observe(trigger: CronTrigger, ctx: TriggerContext) -> reactivex.Observable[Fire]:
    def subscribe(observer, scheduler=None):  # type: ignore[no-untyped-def]
        clock = ctx.clock
        schedule = _Schedule(trigger, clock.wall())
        handle = None

        def plan() -> None:
            nonlocal handle
            due = clock.mono_for(schedule.next())
            handle = clock.call_at(due, lambda: fire(due))

        def fire(due: float) -> None:
            observer.on_next(Fire(due))
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

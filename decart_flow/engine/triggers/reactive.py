"""`@show.reactive`: a Python function turns event streams into a stream of actions."""

from __future__ import annotations

from typing import Any

import reactivex
from reactivex import operators as ops

from ...show.model import ReactiveTrigger
from . import Fire, TriggerContext, TriggerType


class Events:
    """What a reactive function receives: `events.osc("/fader")` etc., each of argument tuples."""

    def __init__(self, ctx: TriggerContext) -> None:
        self._hub = ctx.events
        self.scheduler = ctx.scheduler

    def osc(self, address: str) -> reactivex.Observable[tuple[Any, ...]]:
        return self._hub.stream("osc", address)

    def key(self, key: str) -> reactivex.Observable[tuple[Any, ...]]:
        return self._hub.stream("key", key)

    def http(self, path: str) -> reactivex.Observable[tuple[Any, ...]]:
        return self._hub.stream("http", path)

    def state(self, state: str) -> reactivex.Observable[tuple[Any, ...]]:
        return self._hub.stream("state", state)

    def midi(self, spec: str) -> reactivex.Observable[tuple[Any, ...]]:
        return self._hub.stream("midi", spec)

    def after(self, cue: str) -> reactivex.Observable[tuple[Any, ...]]:
        return self._hub.stream("after", cue)


def observe(trigger: ReactiveTrigger, ctx: TriggerContext, lead: object = None) -> reactivex.Observable[Fire]:
    clock = ctx.clock

    def to_fire(out: Any) -> Fire:
        actions = tuple(out) if isinstance(out, (list, tuple)) else (out,)
        return Fire(clock.now(), None, (), actions)

    return reactivex.defer(lambda _s: trigger.fn(Events(ctx))).pipe(ops.map(to_fire))


TYPE = TriggerType(observe)

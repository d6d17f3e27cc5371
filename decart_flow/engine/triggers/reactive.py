"""`@show.reactive`: a Python function turns event streams into a stream of actions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import reactivex
from reactivex import operators as ops

from ...show.model import ReactiveTrigger
from ...show.nodes import Opaque
from ...show.problems import Problem
from . import Fire, TriggerContext, TriggerKind

if TYPE_CHECKING:
    from ...show.reading import Found, Reader
    from ...show.model import Where

KEY = "<reactive>"  # only the Python builder writes it: not a key of a YAML show


def read(c: Reader, found: Found) -> ReactiveTrigger | None:
    obj = found[KEY][1].value.obj
    return obj if isinstance(obj, ReactiveTrigger) else None


def build(show: Any, where: Where, fn: Callable[..., Any] | None = None, **options: Any) -> Any:
    """`@show.reactive` over `def f(events) -> Observable` of actions."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        if not callable(fn):
            show.add_problem(Problem(where, "@show.reactive decorates a function `def f(events)`"))
            return fn
        opts = dict(options)
        opts.setdefault("name", getattr(fn, "__name__", None))
        show.add_cue(where, [(KEY, Opaque(ReactiveTrigger(fn)))], [], opts)
        return fn

    return decorate(fn) if fn is not None else decorate


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


KIND = TriggerKind(ReactiveTrigger, KEY, read, observe, python="reactive", build=build, brings_actions=True)

"""`every: 1 bar` / `2 beats` / `1/2 beat`, with `from:` / `until:` as beat places and `times:`.

The n-th slot is on beat `from + n * step` of the show's grid (`tempo/`), whatever the tempo did
before: its show time is asked of the grid when it is planned and again whenever the grid changes
(a tap, a Link peer, `/tempo`), so a tempo change mid-show moves every slot still to come. A plain
`every: 20s` is every.py: this kind reads the value only when it counts beats or bars.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import reactivex
from reactivex.disposable import Disposable

from ...tempo.grid import EPS_BEATS
from ...tempo.timers import BeatTimer
from ...tempo.units import BeatPlace, BeatSpan, accepts, read_place, read_span
from ..lookahead import Lead
from . import Fire, TriggerContext, TriggerKind, show_time_due, show_time_walls
from .every import read_times

if TYPE_CHECKING:
    from ...show.reading import Found, Reader


@dataclass(frozen=True)
class BeatEveryTrigger:
    step: BeatSpan
    start: BeatPlace | None = None  # default: bar 1
    until: BeatPlace | None = None
    times: int | None = None


def read(c: Reader, found: Found) -> BeatEveryTrigger | None:
    step = read_span(c, found["every"][1], "every")
    start = read_place(c, found["from"][1], "from (with every: in beats, a beat place)") if "from" in found else None
    until = read_place(c, found["until"][1], "until (with every: in beats, a beat place)") if "until" in found else None
    times = read_times(c, found)
    if start is not None and until is not None and until.unit == start.unit and until.n <= start.n:
        c.error(found["until"][1].where, f"until ({until}) must come after from ({start})")
    c.uses_beats(found["every"][1].where)
    if step is None or ("from" in found and start is None) or ("until" in found and until is None):
        return None
    return BeatEveryTrigger(step, start, until, times)


class _Slots:
    """The trigger's slots as beats of the grid it runs on."""

    def __init__(self, trigger: BeatEveryTrigger, ctx: TriggerContext) -> None:
        grid = ctx.tempo.grid  # type: ignore[attr-defined]
        bar = grid.beats_per_bar
        self.grid = grid
        self.step = trigger.step.beats(bar)
        self.start = trigger.start.beats(bar) if trigger.start is not None else 0.0
        self.until = trigger.until.beats(bar) if trigger.until is not None else math.inf
        self.times = trigger.times if trigger.times is not None else math.inf

    def beat(self, n: int) -> float:
        return self.start + n * self.step

    def index_at(self, t: float) -> int:
        """The first slot at or after show time `t`."""
        return max(0, math.ceil((self.grid.beat_at(t) - self.start) / self.step - EPS_BEATS))

    def count_before_until(self) -> float:
        if self.until == math.inf:
            return math.inf
        return max(0, math.ceil((self.until - self.start) / self.step - EPS_BEATS))

    def allowed(self, n: int) -> bool:
        return n < self.times and self.beat(n) < self.until - EPS_BEATS


def observe(trigger: BeatEveryTrigger, ctx: TriggerContext, lead: Lead | None = None) -> reactivex.Observable[Fire]:
    def subscribe(observer, scheduler=None):  # type: ignore[no-untyped-def]
        sc = ctx.show_clock
        slots = _Slots(trigger, ctx)
        n = slots.index_at(sc.planning_t)
        timer: BeatTimer | None = None

        def plan() -> None:
            nonlocal timer
            if not slots.allowed(n):
                observer.on_completed()
                return
            timer = BeatTimer(sc, slots.grid, slots.beat(n), fire, lead)

        def fire(t: float, ahead: float) -> None:
            nonlocal n
            if slots.grid.beat_at(t) > slots.beat(n) + EPS_BEATS:  # a source put the grid past it: no burst
                n = max(n + 1, slots.index_at(t))
                plan()
                return
            n += 1
            observer.on_next(Fire(sc.mono_of(t), t, (), None, ahead))
            plan()

        plan()
        return Disposable(lambda: timer is not None and timer.cancel())

    return reactivex.create(subscribe)


def next_fire(trigger: BeatEveryTrigger, ctx: TriggerContext):  # type: ignore[no-untyped-def]
    slots, now = _Slots(trigger, ctx), ctx.show_clock.planning_t
    n = slots.index_at(now)
    return (slots.grid.t_at(slots.beat(n), after=now), None) if slots.allowed(n) else None


def last_fire(trigger: BeatEveryTrigger, ctx: TriggerContext) -> float | None:
    slots = _Slots(trigger, ctx)
    n = min(slots.index_at(ctx.show_clock.planning_t), slots.times, slots.count_before_until()) - 1
    return slots.grid.t_at(slots.beat(int(n))) if n >= 0 else None


KIND = TriggerKind(BeatEveryTrigger, "every", read, observe, companions=("from", "until", "times"), accepts=accepts,
                   show_time=True, counts_beats=True, next_fire=next_fire, last_walls=show_time_walls(last_fire),
                   due_now=show_time_due(next_fire))

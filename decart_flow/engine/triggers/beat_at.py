"""`at: bar 17` / `at: beat 5`: once, when the show's beat grid reaches that place.

The place's show time is asked of the grid (`tempo/`) when it is planned and again whenever the grid
changes. A plain `at: 2:30` is at.py: this kind reads the value only when it names a bar or beat.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import reactivex
from reactivex.disposable import Disposable

from ...tempo.grid import EPS_BEATS
from ...tempo.timers import BeatTimer
from ...tempo.units import BeatPlace, accepts, read_place
from ..lookahead import Lead
from . import Fire, TriggerContext, TriggerKind, show_time_due, show_time_walls

if TYPE_CHECKING:
    from ...show.reading import Found, Reader
    from ...show.nodes import Node


@dataclass(frozen=True)
class BeatAtTrigger:
    place: BeatPlace


def read(c: Reader, found: Found) -> BeatAtTrigger | None:
    node = found["at"][1]
    c.uses_beats(node.where)
    place = read_place(c, node, "at")
    return BeatAtTrigger(place) if place is not None else None


def timeline_time(c: Reader, node: Node) -> tuple[float | None, float | None]:
    """`bar 9: ...` in the timeline: its show time at the show's bpm, and its place on the grid."""
    c.uses_beats(node.where)
    place = read_place(c, node, "timeline")
    if place is None:
        return None, None
    beat = place.beats(c.beats_per_bar())
    return beat * 60.0 / c.bpm(), beat


def _beat(trigger: BeatAtTrigger, ctx: TriggerContext) -> float:
    return trigger.place.beats(ctx.tempo.grid.beats_per_bar)  # type: ignore[attr-defined]


def _ahead(trigger: BeatAtTrigger, ctx: TriggerContext) -> bool:
    return _beat(trigger, ctx) >= ctx.tempo.grid.beat_at(ctx.show_clock.planning_t) - EPS_BEATS  # type: ignore[attr-defined]


def observe(trigger: BeatAtTrigger, ctx: TriggerContext, lead: Lead | None = None) -> reactivex.Observable[Fire]:
    def subscribe(observer, scheduler=None):  # type: ignore[no-untyped-def]
        sc = ctx.show_clock
        if not _ahead(trigger, ctx):
            observer.on_completed()
            return Disposable()

        def fire(t: float, ahead: float) -> None:
            observer.on_next(Fire(sc.mono_of(t), t, lead=ahead))
            observer.on_completed()

        return Disposable(BeatTimer(sc, ctx.tempo.grid, _beat(trigger, ctx), fire, lead).cancel)  # type: ignore[attr-defined]

    return reactivex.create(subscribe)


def next_fire(trigger: BeatAtTrigger, ctx: TriggerContext):  # type: ignore[no-untyped-def]
    if not _ahead(trigger, ctx):
        return None
    return ctx.tempo.grid.t_at(_beat(trigger, ctx), after=ctx.show_clock.planning_t), None  # type: ignore[attr-defined]


def last_fire(trigger: BeatAtTrigger, ctx: TriggerContext) -> float | None:
    return None if _ahead(trigger, ctx) else ctx.tempo.grid.t_at(_beat(trigger, ctx))  # type: ignore[attr-defined]


KIND = TriggerKind(BeatAtTrigger, "at", read, observe, accepts=accepts, timeline_time=timeline_time, show_time=True, counts_beats=True, next_fire=next_fire,
                   last_walls=show_time_walls(last_fire), due_now=show_time_due(next_fire))

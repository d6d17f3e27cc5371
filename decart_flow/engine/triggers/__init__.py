"""Trigger kinds: one module each, one line in `REGISTRY` (Home Assistant style).

A kind's module owns everything about it: the cue key it is written with (and the keys that only go
with it), how the compiler reads and checks that key (`read`, with FILE:LINE:COL problems), the
Python builder's call for it (`build`), the Observable of firings it turns into at run time
(`observe`), and what the engine and catch-up need to know (`show_time`, `wall_clock`, `next_fire`,
`last_walls`, `due_now`). Nothing outside the module asks which kind a trigger is: the compiler, the
builder, the engine and catch-up loop over `REGISTRY`. "How to add a trigger" in ARCHITECTURE.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Iterator, NamedTuple, Protocol

from reactivex import Observable

from ..clock import shift
from ..registry import Kinds

if TYPE_CHECKING:
    from ...show.reading import Found, Reader
    from ...show.model import When
    from ...show.nodes import Node
    from ..clock import Clock
    from ..lookahead import Lead
    from ..showclock import ShowClock
    from .event import EventHub


class Fire(NamedTuple):
    intended: float  # loop time the firing was meant for
    t: float | None = None  # its show time, for show-time triggers
    args: tuple[Any, ...] = ()  # event arguments: `{0}`, `{1}` in texts
    actions: tuple[Any, ...] | None = None  # a reactive cue brings its own actions
    lead: float = 0.0  # seconds it was sent ahead of `intended` (lookahead)


class TriggerContext(Protocol):
    """What a trigger reads at run time: the clocks, the event streams, a scheduler for Rx."""

    clock: Clock
    show_clock: ShowClock
    tempo: Any  # a tempo.Conductor (its `grid`) for a show with `tempo:`, else None
    events: EventHub
    scheduler: Any  # a reactivex scheduler on the engine's loop


def _none(trigger: Any, ctx: TriggerContext) -> None:
    return None


def _no_walls(trigger: Any, ctx: TriggerContext) -> Iterator[datetime]:
    return iter(())


def _never(trigger: Any, ctx: TriggerContext) -> bool:
    return False


def _no_args(trigger: Any) -> bool:
    return False


def _same(trigger: Any, when: When) -> Any:
    return trigger


@dataclass(frozen=True)
class TriggerKind:
    model: type  # the show model's dataclass of this kind (`EveryTrigger`)
    key: str  # the cue key that writes it (`every`); `<...>` for one only Python can write
    # (compiler, the cue's keys) -> the trigger, or None after reporting what is wrong
    read: Callable[[Reader, Found], Any]
    # (trigger, ctx, lead): an Observable of `Fire`s; timed kinds fire `lead` ahead, others ignore it
    observe: Callable[[Any, TriggerContext, Lead | None], Observable[Fire]]
    companions: tuple[str, ...] = ()  # cue keys that go only with this kind (`from`, `until`, `times`)
    # For a key two kinds share (`every: 30s`, `every: 1 bar`): whether this kind reads the value.
    # Such a kind comes before the plain one in `REGISTRY`.
    accepts: Callable[[Node], bool] | None = None
    # A timeline key it reads (`bar 17: ...`), as (show seconds at the show's bpm, place on the beat
    # grid): asked before the plain show time, when `accepts` takes the key.
    timeline_time: Callable[[Reader, Node], tuple[float | None, float | None]] | None = None
    # The Python builder's `show.NAME(...)` for this kind: `build(show, where, *args, **options)`.
    python: str | None = None
    build: Callable[..., Any] | None = None
    zoned: bool = False  # reads the wall clock in a zone: a cue's `tz:` goes with it
    brings_actions: bool = False  # its firings carry their own actions (a cue body is optional)
    args: Callable[[Any], bool] = _no_args  # its firings carry arguments for `{0}`, `{1}`
    with_when: Callable[[Any, When], Any] = _same  # the trigger once its cue's `when` is known
    show_time: bool = False  # counts in show time: re-planned when the show clock jumps
    counts_beats: bool = False  # fires on the beat grid (the TUI shows its upcoming firing as bar.beat)
    wall_clock: bool = False  # counts on the wall clock: subscribed when the show starts, never paused
    # (show t, wall) of the next firing, or None (the TUI's "upcoming")
    next_fire: Callable[[Any, TriggerContext], tuple[float | None, datetime | None] | None] = _none
    # Catch-up: the wall times of firings before now, newest first, as far as it is asked...
    last_walls: Callable[[Any, TriggerContext], Iterator[datetime]] = _no_walls
    # ...and whether one is due at this very moment (it fires itself; catch-up leaves it alone).
    due_now: Callable[[Any, TriggerContext], bool] = _never


# The show-time kinds' catch-up, from `next_fire` and a `last_fire(trigger, ctx) -> show t | None`.

def show_time_walls(last_fire: Callable[[Any, TriggerContext], float | None]) -> Callable[..., Iterator[datetime]]:
    def last_walls(trigger: Any, ctx: TriggerContext) -> Iterator[datetime]:
        t = last_fire(trigger, ctx)
        if t is not None:
            yield shift(ctx.clock.wall(), t - ctx.show_clock.planning_t)

    return last_walls


def show_time_due(next_fire: Callable[[Any, TriggerContext], tuple[float | None, Any] | None]) -> Callable[..., bool]:
    from ..showclock import EPS

    def due_now(trigger: Any, ctx: TriggerContext) -> bool:
        nxt = next_fire(trigger, ctx)
        return nxt is not None and nxt[0] is not None and abs(nxt[0] - ctx.show_clock.planning_t) <= EPS

    return due_now


def _registry() -> list[TriggerKind]:
    from . import at, beat_at, beat_every, cron, event, every, reactive

    return [
        beat_at.KIND,
        at.KIND,
        beat_every.KIND,
        every.KIND,
        cron.KIND,
        event.KIND,
        reactive.KIND,
    ]


REGISTRY: Kinds[TriggerKind] = Kinds("trigger", _registry())
trigger_kind = REGISTRY.of


def kind_for_key(key: str, value: Node) -> TriggerKind:
    """The kind that reads `key: value` in a cue (the first that accepts it)."""
    kinds = [k for k in REGISTRY if k.key == key]
    return next((k for k in kinds if k.accepts is None or k.accepts(value)), kinds[-1])


def keys() -> tuple[str, ...]:
    """The trigger keys of a show file, in `REGISTRY` order, each once."""
    return tuple(dict.fromkeys(k.key for k in REGISTRY))

"""Triggers: each kind turns its part of the show model into an Observable of firings.

One module per kind and one line in `REGISTRY` (Home Assistant style). A kind may also say when it
fires next (for the TUI's "upcoming") and when it last fired before now (for catch-up).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, Callable, NamedTuple, Protocol

from reactivex import Observable

from ...show.model import AtTrigger, CronTrigger, EventTrigger, EveryTrigger, ReactiveTrigger

if TYPE_CHECKING:
    from ..clock import Clock
    from ..showclock import ShowClock
    from ..lookahead import Lead
    from .event import EventHub


class Fire(NamedTuple):
    intended: float  # loop time the firing was meant for
    t: float | None = None  # its show time, for show-time triggers
    args: tuple[Any, ...] = ()  # event arguments: `{0}`, `{1}` in texts
    actions: tuple[Any, ...] | None = None  # a reactive cue brings its own actions
    lead: float = 0.0  # seconds it was sent ahead of `intended` (lookahead)


# `Fire(intended, t, args, actions, lead)` from a tuple without the Python-level `__new__`: the timed
# triggers make one per firing.
new_fire: Callable[[tuple[Any, ...]], Fire] = partial(tuple.__new__, Fire)  # type: ignore[assignment]


class TriggerContext(Protocol):
    clock: Clock
    show_clock: ShowClock
    events: EventHub
    scheduler: Any  # a reactivex scheduler on the engine's loop


def _none(trigger: Any, ctx: TriggerContext) -> None:
    return None


@dataclass(frozen=True)
class TriggerType:
    # (trigger, ctx, lead): timed kinds fire `lead` ahead of each firing's time; others ignore it
    observe: Callable[[Any, TriggerContext, Lead | None], Observable[Fire]]
    show_time: bool = False  # counts in show time: re-planned when the show clock jumps
    # (show t, wall) of the next firing, or None
    next_fire: Callable[[Any, TriggerContext], tuple[float | None, datetime | None] | None] = _none
    # show t (show-time kinds) or wall time (wall-clock kinds) of the last firing before now
    last_fire: Callable[[Any, TriggerContext], float | datetime | None] = _none


def _registry() -> dict[type, TriggerType]:
    from . import at, cron, event, every, reactive

    return {
        AtTrigger: at.TYPE,
        EveryTrigger: every.TYPE,
        CronTrigger: cron.TYPE,
        EventTrigger: event.TYPE,
        ReactiveTrigger: reactive.TYPE,
    }


_REGISTRY: dict[type, TriggerType] | None = None


def trigger_type(trigger: Any) -> TriggerType:
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = _registry()
    try:
        return _REGISTRY[type(trigger)]
    except KeyError:
        raise TypeError(f"no trigger kind for {type(trigger).__name__}") from None

"""Catch-up: at start and after a reconnect, send the state that should be in effect now.

An installation restarted at 14:10 must show what its 14:00 cron cue set, not the initial prompt.
Candidates are the last firing before now of every cron cue (croniter's get_prev, inside its
`when`), of every show-time cue and timeline entry up to the current show time, and what the engine
itself last sent (operator and event actions). For the prompt, the image and the mirror, the newest
candidate wins; the winners are sent through the executor like any firing, and journaled.
Each session catches up on its own (its own store, the actions that go to it): after one session
of several reconnects, only it is sent anything.

A cue (or timeline entry) due at the very moment of the start fires itself a moment later: catch-up
does not send its earlier firing first, or the start would send its prompt twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from .actions import ActionContext, action_kind, catch_up_keys, restore
from .clock import shift
from .names import timeline_name
from .showclock import EPS
from .triggers import trigger_kind
from .when import inside

if TYPE_CHECKING:
    from ..show.model import ShowModel
    from .clock import Clock
    from .journal import Journal
    from .lanes import SessionLane
    from .port import ActionPort
    from .showclock import ShowClock
    from .store import StateStore


class Engine(Protocol):
    """What catch-up reads of the engine (and the triggers' context)."""

    show: ShowModel
    clock: Clock
    show_clock: ShowClock
    store: StateStore
    actions: ActionPort
    journal: Journal
    events: Any
    scheduler: Any
    tempo: Any  # the show's tempo Conductor, None without `tempo:`
    lanes: list[SessionLane]  # the sessions the engine runs, in show order

    @property
    def go_index(self) -> int: ...

    def entry_t(self, entry: Any) -> float: ...

    def goes_to(self, action: Any, lane: SessionLane) -> bool: ...  # the action goes to this session


def candidates(engine: Engine, due_now: set[str] | None = None,
               lane: SessionLane | None = None) -> list[tuple[datetime, str, int, Any]]:
    """(wall time, cue, place, action) for every state-setting action that already fired (to `lane`).

    The names of the cues and timeline entries due at this very moment go into `due_now`.
    """
    now_wall, show_t = engine.clock.wall(), engine.show_clock.planning_t
    now_stamp = now_wall.timestamp()
    out: list[tuple[datetime, str, int, Any]] = []
    due_now = set() if due_now is None else due_now

    def add(wall: datetime, name: str, actions: tuple[Any, ...]) -> None:
        # A `then` counts too, as far as its waits have run by now (an audio clip's end is unknown).
        offset = 0.0
        for i, action in enumerate(actions):
            at = shift(wall, offset)
            kind = action_kind(action)
            span = kind.span(action)
            if at.timestamp() > now_stamp or span is None:
                break
            if kind.sets(action) and (lane is None or engine.goes_to(action, lane)):
                out.append((at, name, i, action))
            offset += span

    for cue in engine.show.cues:
        kind = trigger_kind(cue.trigger)
        if kind.due_now(cue.trigger, engine):
            due_now.add(cue.name)
        wall = next((w for w in kind.last_walls(cue.trigger, engine) if inside(cue.when, w)), None)
        if wall is not None:
            add(wall, cue.name, cue.actions + cue.then)
    for i, entry in enumerate(engine.show.timeline):
        t = engine.entry_t(entry)  # a place on the beat grid: where the grid has it now
        if t < show_t - EPS:
            add(shift(now_wall, t - show_t), timeline_name(entry), entry.actions)
        elif t <= show_t + EPS and i >= engine.go_index:  # fires now (see `_subscribe_show_time`)
            due_now.add(timeline_name(entry))
    return out


def catch_up(engine: Engine, reapply: bool, names: tuple[str, ...] | None = None,
             reason: str | None = None) -> list[dict[str, Any]]:
    """Catch up every session (of `names`, None: all); a choice caught up for several sessions
    resolves once, as a firing's does. What each was sent. `reason` for the journal: by default
    `reconnect` when `reapply`, else `start`."""
    port = engine.actions
    outer, port.resolved = port.resolved, {}
    applied: list[dict[str, Any]] = []
    try:
        for lane in engine.lanes:
            if names is None or lane.name in names:
                applied += catch_up_lane(engine, lane, reapply, reason)
    finally:
        port.resolved = outer
    return applied


def catch_up_lane(engine: Engine, lane: SessionLane, reapply: bool, reason: str | None = None) -> list[dict[str, Any]]:
    """Send one session its winners; `reapply` (after a reconnect) also re-sends what the engine last sent it."""
    due_now: set[str] = set()
    store = lane.store
    found = sorted(candidates(engine, due_now, lane), key=lambda c: c[0])
    winners: dict[str, tuple[datetime, str, int, Any]] = {}
    for cand in found:
        for key in action_kind(cand[3]).sets(cand[3]):
            winners[key] = cand
    keys = catch_up_keys()
    # The engine's own sends win when newer (operator, events); after a reconnect they are re-sent.
    for attr, (mono, cue) in store.applied():
        wall = engine.clock.wall_at(mono)
        if attr in keys and (attr not in winners or winners[attr][0] <= wall):
            winners.pop(attr, None)
            if reapply:
                winners[attr] = (wall, cue, -1, restore(attr, store.snapshot()))
    applied: list[dict[str, Any]] = []
    seen: set[int] = set()
    for attr in keys:
        cand = winners.get(attr)
        if cand is None or id(cand) in seen or cand[1] in due_now:  # due now: it fires itself
            continue
        seen.add(id(cand))
        wall, cue, place, action = cand
        applied.append({"cue": cue, "fired": wall.isoformat(), "kind": attr})
        engine.actions.catching_up = True
        try:
            place_text = str(place) if place >= 0 else "catch-up"
            action_kind(action).perform(action, ActionContext(lane.port, cue, place_text, ()))
        finally:
            engine.actions.catching_up = False
    reason = reason or ("reconnect" if reapply else "start")
    engine.journal.write("catch_up", **lane.tag, reason=reason, applied=applied)
    return applied

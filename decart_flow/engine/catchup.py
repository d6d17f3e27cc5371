"""Catch-up: at start and after a reconnect, send the state that should be in effect now.

An installation restarted at 14:10 must show what its 14:00 cron cue set, not the initial prompt.
Candidates are the last firing before now of every cron cue (croniter's get_prev, inside its
`when`), of every show-time cue and timeline entry up to the current show time, and what the engine
itself last sent (operator and event actions). For the prompt, the image and the mirror, the newest
candidate wins; the winners are sent through the executor like any firing, and journaled.

A cue (or timeline entry) due at the very moment of the start fires itself a moment later: catch-up
does not send its earlier firing first, or the start would send its prompt twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..show.model import AudioAction, CronTrigger, ImageAction, MirrorAction, PromptAction, WaitAction
from .actions import ActionContext, perform
from .clock import shift
from .showclock import EPS
from .triggers import trigger_type
from .triggers.cron import _Schedule, previous
from .when import inside

if TYPE_CHECKING:
    from .engine import Engine

_LOOKBACK = 50  # cron firings to look back through for one inside the cue's `when`


def candidates(engine: Engine, due_now: set[str] | None = None) -> list[tuple[datetime, str, int, Any]]:
    """(wall time, cue, place, action) for every state-setting action that already fired.

    The names of the cues and timeline entries due at this very moment go into `due_now`.
    """
    from .engine import timeline_name

    now_wall, show_t = engine.clock.wall(), engine.show_clock.planning_t
    now_stamp = now_wall.timestamp()
    out: list[tuple[datetime, str, int, Any]] = []
    due_now = set() if due_now is None else due_now

    def add(wall: datetime, name: str, actions: tuple[Any, ...]) -> None:
        # A `then` counts too, as far as its waits have run by now (an audio clip's end is unknown).
        offset = 0.0
        for i, action in enumerate(actions):
            at = shift(wall, offset)
            if at.timestamp() > now_stamp or isinstance(action, AudioAction):
                break
            if isinstance(action, WaitAction):
                offset += action.seconds
            elif isinstance(action, (PromptAction, ImageAction, MirrorAction)):
                out.append((at, name, i, action))

    for cue in engine.show.cues:
        kind = trigger_type(cue.trigger)
        if isinstance(cue.trigger, CronTrigger):
            if _Schedule(cue.trigger, now_wall).next_stamp() == now_stamp:
                due_now.add(cue.name)
            wall = next((w for w in previous(cue.trigger, engine, _LOOKBACK) if inside(cue.when, w)), None)
            if wall is not None:
                add(wall, cue.name, cue.actions + cue.then)
        elif kind.show_time:
            nxt = kind.next_fire(cue.trigger, engine)
            if nxt is not None and nxt[0] is not None and abs(nxt[0] - show_t) <= EPS:
                due_now.add(cue.name)
            t = kind.last_fire(cue.trigger, engine)
            if isinstance(t, float | int):
                wall = shift(now_wall, t - show_t)
                if inside(cue.when, wall):
                    add(wall, cue.name, cue.actions + cue.then)
    for i, entry in enumerate(engine.show.timeline):
        if entry.t < show_t - EPS:
            add(shift(now_wall, entry.t - show_t), timeline_name(entry), entry.actions)
        elif entry.t <= show_t + EPS and i >= engine._go:  # noqa: SLF001 - fires now (see `_subscribe_show_time`)
            due_now.add(timeline_name(entry))
    return out


def catch_up(engine: Engine, reapply: bool) -> list[dict[str, Any]]:
    """Send the winners; `reapply` (after a reconnect) also re-sends what the engine last sent."""
    due_now: set[str] = set()
    found = sorted(candidates(engine, due_now), key=lambda c: c[0])
    winners: dict[str, tuple[datetime, str, int, Any]] = {}
    for cand in found:
        action = cand[3]
        if isinstance(action, PromptAction):
            winners["prompt"] = cand
        elif isinstance(action, ImageAction):
            winners["image"] = cand
            if action.prompt is not None:
                winners["prompt"] = cand
        elif isinstance(action, MirrorAction) and action.value != "toggle":
            winners["mirror"] = cand
    # The engine's own sends win when newer (operator, events); after a reconnect they are re-sent.
    for attr, (mono, cue) in engine.applied.items():
        wall = engine.clock.wall_at(mono)
        if attr in ("prompt", "image", "mirror") and (attr not in winners or winners[attr][0] <= wall):
            winners.pop(attr, None)
            if reapply:
                winners[attr] = (wall, cue, -1, _current(engine, attr))
    applied: list[dict[str, Any]] = []
    seen: set[int] = set()
    for attr in ("image", "prompt", "mirror"):
        cand = winners.get(attr)
        if cand is None or id(cand) in seen or cand[1] in due_now:  # due now: it fires itself
            continue
        seen.add(id(cand))
        wall, cue, place, action = cand
        applied.append({"cue": cue, "fired": wall.isoformat(), "kind": attr})
        engine.catching_up = True
        try:
            perform(action, ActionContext(engine, cue, str(place) if place >= 0 else "catch-up", ()))
        finally:
            engine.catching_up = False
    engine.journal.write("catch_up", reason="reconnect" if reapply else "start", applied=applied)
    return applied


def _current(engine: Engine, attr: str) -> Any:
    now = engine._now  # noqa: SLF001 - catch-up is part of the engine
    if attr == "prompt":
        return PromptAction(now["prompt"] or "", enhance=bool(now["enhance"]))
    if attr == "image":
        return ImageAction(now["image"])
    return MirrorAction(bool(now["mirror"]))

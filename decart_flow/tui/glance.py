"""`Glance`: everything the main screen draws, in one immutable value.

The app builds one at a bounded rate (10 Hz) from the engine's latest `ShowState` and the stream's
figures, and sets its reactive attribute `FlowApp.glance`, to which every widget's own `glance` is
bound; a widget redraws only when its part of the glance changed (glance_view.py). Tests build one
by hand: a fixed state and a fixed clock.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime

from ..engine.state import ShowState
from ..show.model import ShowModel


@dataclass(frozen=True)
class Glance:
    state: ShowState
    t: float  # show time now (the snapshot's time moved on by the time since it was taken)
    wall: datetime  # wall clock now
    duration: float | None = None
    go_t: float | None = None  # show time of the next GO target, if any
    go_label: str | None = None
    fps_in: float | None = None  # frames per second coming back from the service
    fps_out: float | None = None  # frames per second our source sends
    glass_ms: float | None = None  # cue-to-glass latency of the last change
    audio_length: float | None = None  # seconds in the clip playing, when known
    phase: str = "playing"  # "starting", "playing", "stopping", "ended", "failed"
    note: str | None = None  # one line for the operator: an error, "reloaded", ...
    #: a show of several sessions: (name, fps in, fps out) of each session the run plays
    session_figures: tuple[tuple[str, float | None, float | None], ...] = ()


def focus(glance: Glance, name: str) -> Glance:
    """The glance as one session's widgets see it: the state's session fields (prompt, connection,
    ...) and the stream figures are that session's; show-wide fields stay. Cue to glass is measured
    on the first session only, so other sessions show none."""
    state = glance.state
    view = next((v for v in getattr(state, "sessions", ()) if v.name == name), None)
    if view is not None:
        own = {f.name for f in fields(state)}
        state = replace(state, **{f.name: getattr(view, f.name) for f in fields(view)
                                  if f.name != "name" and f.name in own})
    figures = next(((i, o) for n, i, o in glance.session_figures if n == name), (None, None))
    first = not glance.session_figures or glance.session_figures[0][0] == name
    return replace(glance, state=state, fps_in=figures[0], fps_out=figures[1],
                   glass_ms=glance.glass_ms if first else None)


def go_target(show: ShowModel, state: ShowState) -> tuple[float | None, str | None]:
    """The timeline entry GO fires next, as (show time, label)."""
    i = state.go_index
    if i is None or not 0 <= i < len(show.timeline):
        return None, None
    entry = show.timeline[i]
    from ..engine.engine import timeline_name

    label = entry.label or timeline_name(entry)
    if entry.beat is not None:  # a place on the beat grid: its time now is the engine's (upcoming)
        return next((u.t for u in state.upcoming if u.cue == label and u.t is not None), entry.t), label
    return entry.t, label

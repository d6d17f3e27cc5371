"""What the TUI and the control servers see: immutable snapshots of the show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class PastFiring:
    t: float  # show time it was meant for (or fired at, for events)
    cue: str
    lateness_ms: float


@dataclass(frozen=True)
class Upcoming:
    cue: str
    t: float | None  # show time (timeline, at, every)
    wall: datetime | None  # wall time (cron)
    bar: str | None = None  # bar.beat, for a place on the beat grid (a show with `tempo:`)


@dataclass(frozen=True)
class SessionView:
    """One session of the show as a snapshot shows it (`ShowState.sessions`, in show order)."""

    name: str
    model: str
    connection: str = "connecting"
    session_id: str | None = None
    protocol: str | None = None  # livekit | p2p
    prompt: str | None = None
    enhance: bool = True
    image: str | None = None
    mirror: bool = False
    audio: str | None = None  # the clip playing, if any
    audio_elapsed: float | None = None  # seconds into it
    last_ack_ms: float | None = None
    billed_s: float = 0.0
    queue: tuple[int, int] | None = None


@dataclass(frozen=True)
class ShowState:
    """The show as it stands. The top-level session fields (connection, prompt, ...) are the first
    session's; `sessions` has every session the engine runs."""

    show: str
    model: str
    connection: str = "connecting"
    session_id: str | None = None
    t: float = 0.0  # show time when the snapshot was taken
    started: bool = False
    paused: bool = False
    ended: str | None = None  # the reason, once the show is over
    prompt: str | None = None
    enhance: bool = True
    image: str | None = None
    mirror: bool = False
    audio: str | None = None  # the clip playing, if any
    audio_elapsed: float | None = None  # seconds into it
    last_ack_ms: float | None = None
    past: tuple[PastFiring, ...] = ()  # newest last, at most 50
    upcoming: tuple[Upcoming, ...] = ()  # soonest first
    go_index: int | None = None  # the timeline entry GO fires next; None past the end
    timeline_len: int = 0
    protocol: str | None = None  # livekit | p2p
    billed_s: float = 0.0  # generation seconds the service ticked, over every connection
    queue: tuple[int, int] | None = None  # (position, queue size) while waiting for a slot
    tempo: Any = None  # a tempo.conductor.TempoState for a show with `tempo:` (BPM, source, peers, beat)
    sessions: tuple[SessionView, ...] = ()  # every session the engine runs, in show order

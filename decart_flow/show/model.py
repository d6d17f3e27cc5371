"""The validated show: plain, immutable data that every other room reads.

The YAML loader and the Python builder both produce a `ShowModel`; the engine compiles it; `plan`,
`run` and the TUI never look at the source file again. Every node keeps the `Where` it came from so
that a problem found late (a reload, a reactive cue) can still point at a line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time as dtime
from pathlib import Path
from typing import Any, Callable, Iterator, Literal, Union

MODES = ("restart", "queue", "parallel", "single")
Mode = Literal["restart", "queue", "parallel", "single"]
CONNECTION_STATES = ("connecting", "connected", "generating", "reconnecting", "disconnected")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Where:
    """A position in a show file (1-based line and column)."""

    file: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


NOWHERE = Where("<python>")


# ---------------------------------------------------------------- texts and choices


@dataclass(frozen=True)
class Choice:
    """`{cycle: [...]}`, `{shuffle: [...]}` or `{random: [...]}`: one item per firing."""

    kind: Literal["cycle", "shuffle", "random"]
    items: tuple[str, ...]


Text = Union[str, Choice]


# ---------------------------------------------------------------- actions


@dataclass(frozen=True)
class PromptAction:
    text: Text
    enhance: bool = True
    where: Where = NOWHERE
    to: tuple[str, ...] | None = None  # the sessions it goes to; None: every session that can take it


@dataclass(frozen=True)
class ImageAction:
    """`image:` with an optional `prompt:` beside it: one `set_image` on the wire.

    `image` is an absolute path, an http(s) URL, or None (clear the reference image).
    """

    image: str | None
    prompt: Text | None = None
    enhance: bool = True
    where: Where = NOWHERE
    to: tuple[str, ...] | None = None


@dataclass(frozen=True)
class MirrorAction:
    value: bool | Literal["toggle"]
    where: Where = NOWHERE
    to: tuple[str, ...] | None = None


@dataclass(frozen=True)
class AudioAction:
    path: str  # absolute path, checked decodable at load time
    where: Where = NOWHERE
    seconds: float | None = None  # the clip's length, measured at load (plan places `then` after it)
    to: tuple[str, ...] | None = None


@dataclass(frozen=True)
class WaitAction:
    seconds: float  # for a wait in beats: its length at the show's bpm (what `plan` lays out)
    where: Where = NOWHERE
    beats: Any = None  # `wait: 2 beats`: a tempo.BeatSpan, counted on the grid when the wait starts


@dataclass(frozen=True)
class LogAction:
    text: str
    where: Where = NOWHERE


@dataclass(frozen=True)
class ControlAction:
    """Show control: `go: next`, `go: back`, `pause`, `resume`, `stop`."""

    command: Literal["next", "back", "pause", "resume", "stop"]
    where: Where = NOWHERE


@dataclass(frozen=True)
class CallAction:
    """A Python show's `async def handler(session)`: awaited with the live session."""

    fn: Callable[..., Any]
    where: Where = NOWHERE
    to: tuple[str, ...] | None = None  # runs once, with the first of these sessions (None: the show's first)


Action = Union[
    PromptAction, ImageAction, MirrorAction, AudioAction, WaitAction, LogAction, ControlAction, CallAction
]


# ---------------------------------------------------------------- triggers


@dataclass(frozen=True)
class AtTrigger:
    t: float


@dataclass(frozen=True)
class EveryTrigger:
    interval: float
    start: float = 0.0  # `from:`
    until: float | None = None
    times: int | None = None
    # the cue's `when` when `times` is set: `times` counts firings that happened, and a slot that
    # `when` suppressed did not happen
    when: When | None = None


@dataclass(frozen=True)
class CronTrigger:
    expr: str
    tz: str | None = None  # IANA name; None = local zone


@dataclass(frozen=True)
class EventTrigger:
    """`on: KIND ARG`: key, osc, http, state, after, midi (note/cc)."""

    kind: Literal["key", "osc", "http", "state", "after", "midi"]
    arg: str
    quantize: Any = None  # `quantize: 1 bar`: a tempo.BeatSpan; the firing waits for the next grid line


@dataclass(frozen=True)
class ReactiveTrigger:
    """A Python show's `@show.reactive`: `fn(events) -> Observable[Action | list[Action]]`."""

    fn: Callable[..., Any]


Trigger = Union[AtTrigger, EveryTrigger, CronTrigger, EventTrigger, ReactiveTrigger]


@dataclass(frozen=True)
class When:
    """Wall-clock condition: inside any `between` window (may cross midnight) and on `days`."""

    between: tuple[tuple[dtime, dtime], ...] = ()
    days: frozenset[str] = frozenset()  # subset of DAYS; empty = every day
    tz: str | None = None  # the zone the window is read in (the cue's, else the show's); None = local


@dataclass(frozen=True)
class SessionPolicy:
    """`session:` opening hours and a daily budget: when an installation's session runs (and pays)."""

    when: When | None = None  # connected only inside this window
    budget: float | None = None  # generation seconds a day, by the service's ticks
    where: Where = NOWHERE


# ---------------------------------------------------------------- cues and the show


@dataclass(frozen=True)
class Cue:
    name: str
    trigger: Trigger
    actions: tuple[Action, ...]  # the cue's body, in order
    then: tuple[Action, ...] = ()  # runs after the body (and after an audio clip has finished)
    when: When | None = None
    mode: Mode = "restart"
    lookahead: float | Literal["auto"] | None = None  # None = the show's setting
    where: Where = NOWHERE


@dataclass(frozen=True)
class TimelineEntry:
    t: float  # show seconds (for a place on the beat grid: at the show's bpm)
    actions: tuple[Action, ...]
    label: str = ""  # what the TUI shows: the source text of the entry
    where: Where = NOWHERE
    lookahead: float | Literal["auto"] | None = None  # None = the show's setting
    beat: float | None = None  # `bar 9:`: its place on the beat grid (0 = bar 1), followed at run time
    place: str | None = None  # ...as the show writes it (`bar 9`): how the journal and plan name it


@dataclass(frozen=True)
class Tempo:
    """`tempo: {bpm, beats_per_bar, source}` (tempo/ runs it)."""

    bpm: float
    beats_per_bar: int = 4
    source: str = "internal"  # internal | tap | link | midi-clock


@dataclass(frozen=True)
class Initial:
    prompt: str | None = None
    enhance: bool = True
    image: str | None = None
    mirror: bool = False


@dataclass(frozen=True)
class SessionSpec:
    """One session of a show: a model with its source and initial state (`sessions:`, or the
    top-level `model:` of a one-session show, named `main`)."""

    name: str
    model: str  # canonical model name (aliases resolved)
    source: str = "testsrc"
    initial: Initial = Initial()
    resolution: str | None = None
    speed: str | None = None
    where: Where = NOWHERE  # where the session is written (its name under `sessions:`)
    model_where: Where = NOWHERE  # where its `model:` is written (for backend checks)


MAIN = "main"  # the one session of a show with top-level `model:`


@dataclass(frozen=True)
class ShowModel:
    name: str
    model: str  # canonical model name (aliases resolved)
    source: str = "testsrc"
    duration: float | None = None
    loop: bool = False
    vars: dict[str, str] = field(default_factory=dict)
    initial: Initial = Initial()
    timeline: tuple[TimelineEntry, ...] = ()  # sorted by t
    cues: tuple[Cue, ...] = ()
    lookahead: float | Literal["auto"] | None = None
    tz: str | None = None  # the show's zone for `cron` and `when` (a cue's `tz` overrides); None = local
    path: Path | None = None  # the file it was loaded from
    where: Where = NOWHERE
    resolution: str | None = None  # today's models: 720p | 1080p
    speed: str | None = None  # today's models that offer it: fast
    model_where: Where = NOWHERE  # where `model:` is written (for backend checks)
    session: SessionPolicy | None = None  # opening hours and budget
    tempo: Tempo | None = None  # the beat grid, when the show counts beats
    go_quantize: Any = None  # `go: {quantize: 1 bar}`: a tempo.BeatSpan GO waits for
    nodes: dict[str, tuple[str, ...]] | None = None  # a show across machines: node -> its sessions
    # Never empty once made: a show with top-level `model:` has one, `main`, made of the top-level
    # model/source/initial/resolution/speed; a `sessions:` show has those of its first session there.
    sessions: tuple[SessionSpec, ...] = ()

    def __post_init__(self) -> None:
        sessions = self.sessions
        if len(sessions) <= 1:  # one session: it and the top-level fields say the same (`replace` keeps them so)
            old = sessions[0] if sessions else SessionSpec(MAIN, self.model, where=self.where)
            one = SessionSpec(old.name, self.model, self.source, self.initial, self.resolution, self.speed,
                              old.where, self.model_where)
            object.__setattr__(self, "sessions", (one,))
        else:  # several: the top level is the first session (code that knows one session reads it)
            first = sessions[0]
            for key in ("model", "source", "initial", "resolution", "speed", "model_where"):
                object.__setattr__(self, key, getattr(first, key))
        object.__setattr__(self, "_targets", {})

    def session_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.sessions)

    def session_spec(self, name: str) -> SessionSpec:
        for spec in self.sessions:
            if spec.name == name:
                return spec
        raise KeyError(name)

    @property
    def several(self) -> bool:
        """More than one session: journal records and plan rows then say which session."""
        return len(self.sessions) > 1

    def targets(self, action: Any) -> tuple[str, ...]:
        """The sessions `action` goes to: its `to:`, else every session whose model can take it
        (its kind's `model_problem` is None there); () for a show-wide action (log, wait, go...)."""
        cache: dict[Any, tuple[str, ...]] = self._targets  # type: ignore[attr-defined]
        try:
            return cache[action]
        except (KeyError, TypeError):
            pass
        from decart_flow.engine.actions import action_kind

        kind = action_kind(action)
        if not kind.routed:
            found: tuple[str, ...] = ()
        elif action.to is not None:
            found = tuple(action.to)
        else:
            found = tuple(s.name for s in self.sessions if kind.model_problem(action, s.model) is None)
        try:
            cache[action] = found
        except TypeError:  # an unhashable action (a handler's odd object): not cached
            pass
        return found

    def cue(self, name: str) -> Cue | None:
        return next((c for c in self.cues if c.name == name), None)

    def written_actions(self) -> "Iterator[Any]":
        """Every action written in the show (timeline entries, cues and their `then`), in order;
        a reactive cue's actions come at run time and are not among them."""
        for entry in self.timeline:
            yield from entry.actions
        for cue in self.cues:
            yield from cue.actions
            yield from cue.then

    def clip_lengths(self) -> dict[str, float | None]:
        """Each audio clip of the show and its length as the loader measured it (`AudioAction.seconds`)."""
        return {a.path: a.seconds for a in self.written_actions() if isinstance(a, AudioAction)}

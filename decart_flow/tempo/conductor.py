"""The show's tempo: one grid and the source that moves it.

The engine owns one `Conductor` when the show has `tempo:`. It tells the conductor what the show
clock did (`started`, `paused`, `resumed`, `jumped`), the control edges hand it taps, `/tempo`
values and MIDI clock messages, and the grid's subscribers (the beat triggers) re-plan on its
changes. Sources that hear the beat from outside (Link, MIDI clock) keep one number, `offset`: the
show's beat is the source's beat plus it. It is chosen when the show starts, resumes or jumps, a
whole number of bars when the source is on a bar line then, so bar 1 of the show is a bar of the
music, and the grid is put where the source says from then on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from .grid import BeatGrid, bar_beat
from .link import LinkSession
from .midiclock import MidiClock
from .tap import TapTempo

SOURCES = ("internal", "tap", "link", "midi-clock")
FOLLOW_EVERY = 0.05  # seconds between readings of the Link session
START_SLACK = 0.003  # seconds: a start this close to the bar line is on it
TOLERANCE = 0.0003  # seconds: a grid off by less than this is left alone (no re-planning)


class ShowTime(Protocol):
    started: bool
    paused: bool

    @property
    def t(self) -> float: ...


@dataclass(frozen=True)
class TempoState:
    """What the TUI shows: the tempo, its source and the beat, which it moves on to any show time."""

    bpm: float
    source: str
    peers: int | None  # Link only
    beats_per_bar: int
    t: float  # the show time the beat was read at
    beat: float

    def beat_at(self, t: float) -> float:
        return self.beat + (t - self.t) * self.bpm / 60.0

    def bar_beat(self, t: float) -> str:
        return self.format(self.beat_at(t))

    def format(self, beat: float) -> str:
        return bar_beat(beat, self.beats_per_bar)


class Conductor:
    def __init__(self, bpm: float, beats_per_bar: int, source: str, show: ShowTime,
                 now: Callable[[], float], later: Callable[[float, Callable[[], None]], Any] | None = None,
                 link: LinkSession | None = None) -> None:
        if source not in SOURCES:
            raise ValueError(f"unknown tempo source {source!r}")
        self.source, self.show, self.now, self.later = source, show, now, later
        self.grid = BeatGrid(bpm, beats_per_bar)
        self.taps = TapTempo()
        self.midi = MidiClock()
        self.link = link if link is not None else (LinkSession(bpm, beats_per_bar) if source == "link" else None)
        self.offset: float | None = None  # show beat minus the source's beat
        self._follow_timer: Any = None
        self._start_deferred: str | None = None

    # -- lifetime (real runs; `plan` never starts a source) -------------------------------------

    def start_source(self) -> None:
        if self.link is not None and not self.link.running:
            self.link.start()
            self.link.subscribe(self.follow)
            self._schedule_follow()

    def stop_source(self) -> None:
        if self._follow_timer is not None:
            self._follow_timer.cancel()
            self._follow_timer = None
        if self.link is not None:
            self.link.stop()

    def defer_start(self, start: Callable[[], None]) -> bool:
        """With Link, the show starts on the session's next bar line: True while the start waits for
        it (`start` is called then, once; asked again meanwhile, still True). A peer that changes
        the tempo during the wait moves the bar line: the wait is set again for the new one."""
        if self._start_deferred == "done" or self.later is None:
            return False
        if self._start_deferred == "waiting":
            return True
        delay = self.start_delay()
        if delay <= 0.0:
            return False
        self._start_deferred = "waiting"

        def go() -> None:
            delay = self.start_delay()
            bar = self.grid.beats_per_bar * 60.0 / max(self.link.tempo, 1.0) if self.link is not None else 0.0
            if START_SLACK < delay < bar - START_SLACK:  # not on a bar line: the tempo moved it
                self.later(delay, go)  # type: ignore[misc]
                return
            self._start_deferred = "done"
            start()

        self.later(delay, go)
        return True

    def start_delay(self) -> float:
        """Seconds the show's start waits for: to the Link session's next bar line, else 0."""
        if self.link is None or not self.link.running:
            return 0.0
        now = self.now()
        return max(self.link.next_bar(now) - now, 0.0)

    # -- the show clock's news ------------------------------------------------------------------

    def started(self) -> None:
        self._anchor()

    def resumed(self) -> None:
        self._anchor()

    def jumped(self) -> None:
        self._anchor()

    def paused(self) -> None:
        self.taps.reset()  # taps across a pause are not one tempo

    def _anchor(self) -> None:
        if self.link is not None and self.link.running:
            t, mono = self.show.t, self.now()
            source_beat = self.link.beat_at(mono)
            self.offset = self._bar_offset(self.grid.beat_at(t), source_beat)
            self.follow()

    def _bar_offset(self, show_beat: float, source_beat: float) -> float:
        """The offset that keeps the show's beat within half a bar of where it is and puts the bars
        of both on each other."""
        bar = self.grid.beats_per_bar
        raw = show_beat - source_beat
        return round(raw / bar) * bar

    # -- sources --------------------------------------------------------------------------------

    def follow(self) -> None:
        """Put the grid where the Link session says the beat is now (a peer may have moved it)."""
        link, show = self.link, self.show
        if link is None or not link.running or self.offset is None or not show.started or show.paused:
            return
        at, beat, tempo = link.sample()
        t = show.t + (at - self.now())
        want = beat + self.offset
        have = self.grid.beat_at(t)
        if abs(want - have) * 60.0 / tempo > TOLERANCE or abs(tempo - self.grid.bpm) > 1e-6:
            self.grid.align(t, want, tempo)

    def _schedule_follow(self) -> None:
        if self.later is None:
            return

        def tick() -> None:
            self.follow()
            self._schedule_follow()

        self._follow_timer = self.later(FOLLOW_EVERY, tick)

    def set_bpm(self, bpm: float) -> None:
        """OSC `/tempo BPM`, a tempo the show sets: the grid takes it now, Link publishes it."""
        if self.link is not None and self.link.running:
            self.link.publish(bpm)
            self.follow()
            return
        self.grid.set_tempo(self.show.t, bpm)

    def tap(self, at: float | None = None) -> float | None:
        """A tap (TUI `t`, OSC `/tap`) at monotonic time `at`; the new tempo, or None."""
        at = self.now() if at is None else at
        bpm = self.taps.tap(at)
        if bpm is None or not self.show.started or self.show.paused:
            return bpm
        if self.link is not None and self.link.running:  # the session's tempo: every peer takes it
            self.set_bpm(bpm)
            return bpm
        t = self.show.t + (at - self.now())
        # the tap is a beat: the grid's nearest beat is put on it
        self.grid.align(t, float(round(self.grid.beat_at(t))), bpm)
        return bpm

    def midi_clock(self, message: Any, at: float | None = None) -> str | None:
        """A MIDI clock message; `start`, `stop` or `continue` for the engine to act on, else None."""
        at = self.now() if at is None else at
        event = self.midi.feed(message, at)
        if event is None:
            return None
        if event.kind == "tempo":
            if self.show.started and not self.show.paused:
                self.grid.set_tempo(self.show.t + (at - self.now()), event.bpm)  # type: ignore[arg-type]
            return None
        if event.kind in ("beat", "pulse"):
            show = self.show
            if show.started and not show.paused:
                t = show.t + (at - self.now())
                if self.offset is None:  # the first beat after `start`: on the show's next bar line
                    self.offset = self._next_bar(self.grid.beat_at(t)) - event.beat  # type: ignore[operator]
                self.grid.align(t, event.beat + self.offset, event.bpm)  # type: ignore[operator]
            return None
        if event.kind == "start":
            self.offset = None  # the next beat anchors the grid again (`continue` keeps the count)
        return event.kind

    def _next_bar(self, beat: float) -> float:
        bar = self.grid.beats_per_bar
        return math.ceil(beat / bar - 1e-6) * bar

    # -- what the TUI shows ---------------------------------------------------------------------

    def state(self) -> TempoState:
        t = self.show.t
        return TempoState(bpm=self.grid.bpm, source=self.source,
                          peers=self.link.peers if self.link is not None and self.link.running else None,
                          beats_per_bar=self.grid.beats_per_bar, t=t, beat=self.grid.beat_at(t))


def conductor_for(show: Any, show_clock: ShowTime, loop: Any) -> Conductor | None:
    """The conductor of a show with `tempo:` on the engine's loop; None for a show without."""
    tempo = getattr(show, "tempo", None)
    if tempo is None:
        return None
    return Conductor(tempo.bpm, tempo.beats_per_bar, tempo.source, show_clock, now=loop.time, later=loop.call_later)

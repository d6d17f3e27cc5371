"""The show transport: where the show is on its timeline, and the operator's GO, back, pause and seek.

It owns what counts in show time: the timeline entries, the show-time cues and the show's end are
planned from the current show time on, and planned again whenever show time jumps (GO, back, seek,
a loop, a reload). Catch-up runs before planning, so a show started or moved to `t` shows what
should be in effect at `t`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Protocol

from ..tempo.grid import EPS_BEATS
from ..tempo.timers import BeatTimer
from . import catchup
from .lookahead import call_ahead
from .names import timeline_name
from .showclock import EPS
from .triggers import trigger_kind

if TYPE_CHECKING:
    from ..show.model import TimelineEntry
    from .cues import CueRunner
    from .publisher import Publisher


class Host(catchup.Engine, Protocol):
    """What the transport reads of the engine: the show (swapped by a reload), catch-up's context, its end."""

    def stop(self, reason: str = "stop") -> None: ...


class Transport:
    def __init__(self, host: Host, cues: CueRunner, publisher: Publisher) -> None:
        self.host = host
        self.cues = cues
        self.publisher = publisher
        self.show_clock = host.show_clock
        self.loop = host.clock.loop
        self.journal = host.journal
        self.tempo = host.tempo
        self.go_index = 0  # the timeline entry GO fires next
        self._go_waiting: Any = None  # a GO waiting for its grid line (`go: {quantize: ...}`)
        self._subs: list[Any] = []  # what counts in show time, planned from now on

    def entry_t(self, entry: TimelineEntry) -> float:
        """A timeline entry's show time: a place on the beat grid where the grid has it now."""
        if entry.beat is not None and self.tempo is not None:
            return self.tempo.grid.t_at(entry.beat)
        return entry.t

    # ------------------------------------------------------------ planning

    def plan_from(self, t: float) -> None:
        """Catch up to show time `t`, then plan everything after it (at the start, after a seek)."""
        self.show_clock.plan_t = t
        try:
            catchup.catch_up(self.host, reapply=False)
            self._plan()
        finally:
            self.show_clock.plan_t = None

    def replan(self) -> None:
        """The show was swapped while running (a reload): GO points at the first entry still ahead,
        and what counts in show time is planned afresh."""
        self.unplan()
        now = self.show_clock.t
        timeline = self.host.show.timeline
        self.go_index = next((i for i, e in enumerate(timeline) if self.entry_t(e) >= now - EPS), len(timeline))
        self._plan()

    def unplan(self) -> None:
        for sub in self._subs:
            sub.dispose()
        self._subs.clear()

    def skip_played(self, t: float, fired: dict[str, float]) -> None:
        """A resumed run starting at `t`: the entries before it, or fired early by the run before, played."""
        self.go_index = 0
        for i, e in enumerate(self.host.show.timeline):
            name = timeline_name(e)
            if e.t < t - EPS or fired.get(name, -1.0) >= e.t - EPS:
                self.go_index = i + 1
                self.cues.sent_ahead(f"{name} #{i}", e.t)

    def _plan(self) -> None:
        """(Re)plan everything that counts in show time from the current show time on."""
        sc = self.show_clock
        show = self.host.show
        now = sc.planning_t
        for i in range(self.go_index, len(show.timeline)):
            entry = show.timeline[i]
            if entry.beat is not None and self.tempo is not None:  # its time follows the tempo
                if entry.beat >= self.tempo.grid.beat_at(now) - EPS_BEATS:
                    self._subs.append(BeatTimer(sc, self.tempo.grid, entry.beat, lambda t, ahead, i=i: self._fire(
                        i, intended=sc.mono_of(t), lead=ahead), self.cues.lead(entry.lookahead)))
            elif entry.t >= now - EPS:
                lead = self.cues.lead(getattr(entry, "lookahead", None))
                if lead is None:
                    self._subs.append(sc.call_at(entry.t, lambda i=i: self._fire(i)))
                else:
                    self._subs.append(
                        call_ahead(sc.call_at, entry.t, lead, lambda ahead, i=i: self._fire(i, lead=ahead)))
        if show.duration is not None:
            self._subs.append(sc.call_at(show.duration, self._duration_end, prio=0))
        for cue in show.cues:
            if trigger_kind(cue.trigger).show_time:
                self._subs.append(self.cues.subscribe(cue))

    def _fire(self, i: int, intended: float | None = None, lead: float = 0.0, again: bool = False) -> None:
        """Fire entry i; GO then points after it."""
        self.go_index = i + 1
        self.cues.fire_entry(i, intended, lead, again)

    def _duration_end(self) -> None:
        if self.host.show.loop:
            self.journal.write("show.loop")
            self.cues.forget_ahead()
            self.show_clock.jump(0.0)
            self.go_index = 0
            self.show_clock.plan_t = 0.0
            try:
                self.unplan()
                self._plan()
            finally:
                self.show_clock.plan_t = None
        else:
            self.host.stop("duration")

    # ------------------------------------------------------------ intents

    def go_next(self) -> bool:
        """Fire the next timeline entry now; the show clock jumps to its time. With `go: {quantize:
        1 bar}` "now" is the next bar line (a second GO meanwhile changes nothing)."""
        show = self.host.show
        if not self.show_clock.started or self.go_index >= len(show.timeline):
            return False
        quantize = show.go_quantize
        if quantize is not None and self.tempo is not None:
            if self._go_waiting is None:
                grid = self.tempo.grid
                self._go_waiting = BeatTimer(self.show_clock, grid, grid.beat_at(grid.next_line(
                    self.show_clock.t, quantize.beats(grid.beats_per_bar))), lambda t, ahead: self._go_now())
            return True
        return self._go_now()

    def _go_now(self) -> bool:
        self._go_waiting = None
        if self.go_index >= len(self.host.show.timeline):
            return False
        i = self.go_index
        self.journal.write("go", direction="next", index=i)
        self._jump_to_entry(i)
        return True

    def go_back(self) -> bool:
        """Re-apply the entry before the last one fired; GO then points after it."""
        target = self.go_index - 2
        if not self.show_clock.started or target < 0:
            return False
        self.journal.write("go", direction="back", index=target)
        self._jump_to_entry(target)
        return True

    def go_to(self, i: int) -> bool:
        """Fire timeline entry `i` now and jump the show clock to its time: a GO decided elsewhere."""
        if not self.show_clock.started or not 0 <= i < len(self.host.show.timeline):
            return False
        self.journal.write("go", direction="to", index=i)
        self._jump_to_entry(i)
        return True

    def _jump_to_entry(self, i: int) -> None:
        timeline = self.host.show.timeline
        entry = timeline[i]
        entry_t = self.entry_t(entry)
        back = entry_t < self.show_clock.t or i < self.go_index - 1
        if entry_t < self.show_clock.t:  # back in time: what was sent early may fire again
            self.cues.forget_ahead(entry_t)
        if back:  # the entries from i on are ahead again: listed once, as upcoming
            self.publisher.unfire(entry_t - EPS, {e.label or timeline_name(e) for e in timeline[i:]})
        self.show_clock.jump(entry_t)
        if self.tempo is not None:
            self.tempo.jumped()
        self.go_index = i + 1
        self.unplan()
        self._fire(i, intended=self.loop.time(), again=back)
        self.show_clock.plan_t = entry_t
        try:
            self._plan()
        finally:
            self.show_clock.plan_t = None

    def seek(self, t: float) -> None:
        """Set show time to `t` without firing an entry (following a clock owned elsewhere): what
        the stretch skipped over set is caught up, and everything after `t` is planned again."""
        if not self.show_clock.started:
            return
        if t < self.show_clock.t:
            self.cues.forget_ahead(t)
        self.journal.write("show.seek", to=round(t, 6))
        self.show_clock.jump(t)
        timeline = self.host.show.timeline
        self.go_index = next((i for i, e in enumerate(timeline) if e.t >= t - EPS), len(timeline))
        self.unplan()
        self.plan_from(t)
        self.publisher.changed()

    def pause(self) -> bool:
        return self._held(self.show_clock.pause(), "show.pause", self.tempo.paused if self.tempo is not None else None)

    def resume(self) -> bool:
        return self._held(self.show_clock.resume(), "show.resume", self.tempo.resumed if self.tempo is not None else None)

    def _held(self, changed: bool, event: str, tell_tempo: Callable[[], None] | None) -> bool:
        """After a pause or resume of the show clock: the tempo hears it, the journal and the state show it."""
        if not changed:
            return False
        if tell_tempo is not None:
            tell_tempo()
        self.journal.write(event)
        self.publisher.changed()
        return True

"""The operator's tempo intents (tap, `/tempo BPM`, MIDI clock), handed to the show's tempo `Conductor`.

What the conductor hears may move the show too: MIDI clock's start, stop and continue start,
pause and resume it, as the operator's keys would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from ..tempo.conductor import Conductor
    from .journal import Journal
    from .port import ActionPort
    from .publisher import Publisher
    from .showclock import ShowClock
    from .transport import Transport


@dataclass(eq=False)  # one per engine: compared and hashed as itself
class TempoIntents:
    tempo: Conductor | None
    show_clock: ShowClock
    journal: Journal
    actions: ActionPort
    publisher: Publisher
    transport: Transport
    start: Callable[[], bool]  # start the show now if it runs and has not started; whether it did

    def tap(self) -> bool:
        """The TUI's `t` or OSC `/tap`: a beat tapped now; True when the show has a tempo."""
        if self.tempo is None:
            return False
        bpm = self.tempo.tap()
        if bpm is not None:
            self.journal.write("tempo", bpm=round(bpm, 3), source="tap", bar=self.tempo.grid.bar_beat(self.show_clock.t))
        self.publisher.changed()
        return True

    def set_tempo(self, bpm: float) -> bool:
        """OSC `/tempo BPM`: the grid takes it from now on (with Link, every peer does)."""
        if not self.actions.set_tempo(bpm, "set"):
            return False
        self.publisher.changed()
        return True

    def midi_clock(self, message: Any, at: float) -> bool:
        """A MIDI clock message (`source: midi-clock`): pulses set the tempo, start/stop start and pause."""
        if self.tempo is None or self.tempo.source != "midi-clock":
            return False
        what = self.tempo.midi_clock(message, at)
        if what == "start" and self.start():
            return True
        if what in ("start", "continue"):
            self.transport.resume()
        elif what == "stop":
            self.transport.pause()
        return True

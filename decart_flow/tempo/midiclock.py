"""MIDI clock in: 24 pulses a quarter note, `start` / `stop` / `continue`.

Plain data in, plain data out (no port here): `feed(message, at)` takes a mido Message and the
monotonic time it came in and says what it meant, so the clock is tested with synthetic messages.
The tempo is read over the last beat of pulses (the span of 24 intervals, which averages away the
jitter of a USB clock); every 24th pulse after `start` is a beat, and every sixth pulse the grid is
put where the clock is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PPQN = 24
WINDOW = PPQN  # intervals the tempo is read over
STEP = PPQN // 4  # pulses between the places reported while running


@dataclass(frozen=True)
class ClockEvent:
    """What a message meant: `kind` is `start`, `stop`, `continue`, `beat` or `pulse` (a sixteenth;
    both with the clock's beat since start and its bpm) or `tempo` (a stopped clock's bpm)."""

    kind: str
    at: float
    beat: float | None = None
    bpm: float | None = None


class MidiClock:
    def __init__(self) -> None:
        self._pulses: list[float] = []
        self.running = False
        self.pulse = 0  # pulses since start
        self._idle = 0  # pulses while stopped
        self.bpm: float | None = None

    def feed(self, message: Any, at: float) -> ClockEvent | None:
        kind = getattr(message, "type", None)
        if kind == "start":
            self.running, self.pulse = True, 0
            self._pulses.clear()
            return ClockEvent("start", at)
        if kind == "stop":
            self.running = False
            return ClockEvent("stop", at)
        if kind == "continue":
            self.running = True
            self._pulses.clear()  # the gap is not a tempo
            return ClockEvent("continue", at)
        if kind != "clock":
            return None
        pulses = self._pulses
        pulses.append(at)
        del pulses[: -(WINDOW + 1)]
        if len(pulses) >= 2:
            span = pulses[-1] - pulses[0]
            if span > 0:
                self.bpm = 60.0 * (len(pulses) - 1) / (span * PPQN)
        if not self.running:  # a stopped device that still sends clock: its tempo, once a beat
            self._idle += 1  # (the song position stays where `stop` left it)
            return ClockEvent("tempo", at, None, self.bpm) if self._idle % PPQN == 0 and self.bpm else None
        # the first pulse after start is beat 0, each 24th after it the next beat; every sixth (a
        # sixteenth note) says where the clock is, so the grid follows within a sixteenth
        pulse, self.pulse = self.pulse, self.pulse + 1
        if pulse % STEP:
            return None
        return ClockEvent("beat" if pulse % PPQN == 0 else "pulse", at, pulse / PPQN, self.bpm)

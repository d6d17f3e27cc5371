"""MIDI clock in: 24 pulses a quarter note, `start` / `stop` / `continue`.

Plain data in, plain data out (no port here): `feed(message, at)` takes a mido Message and the
monotonic time it came in and says what it meant, so the clock is tested with synthetic messages.
The tempo is read over the last beat of pulses (the span of 24 intervals, which averages away the
jitter of a USB clock); every 24th pulse after `start` is a beat, which the grid is put on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PPQN = 24
WINDOW = PPQN  # intervals the tempo is read over


@dataclass(frozen=True)
class ClockEvent:
    """What a message meant: `kind` is `start`, `stop`, `continue` or `beat` (with beat and bpm)."""

    kind: str
    at: float
    beat: int | None = None
    bpm: float | None = None


class MidiClock:
    def __init__(self) -> None:
        self._pulses: list[float] = []
        self.running = False
        self.pulse = 0  # pulses since start
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
        if not self.running:
            return None
        # the first pulse after start is beat 0; each 24th after it the next beat
        pulse, self.pulse = self.pulse, self.pulse + 1
        return ClockEvent("beat", at, pulse // PPQN, self.bpm) if pulse % PPQN == 0 else None

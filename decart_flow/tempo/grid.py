"""The beat grid: beats <-> show time, one straight piece per tempo.

Beats are counted from 0 at show time 0 (bar 1, beat 1). A tempo change, or a source that puts the
beat where it hears it (Link, MIDI clock, a tap), starts a new piece at the show time it happens;
the pieces before it stay, so a time in the past still reads the beat it had. Because the grid is in
show time, a pause stops it and GO moves along it with no work here.

Places on the grid are beats (floats): `bar N` is beat (N-1)*beats_per_bar. `bar_beat` writes a
place the way musicians read it, `3.2` for the second beat of the third bar.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import Callable

EPS_BEATS = 1e-6  # a beat this close to a grid line is on it


@dataclass(frozen=True)
class Segment:
    """From show time `t` on, the beat is `beat + (time - t) * bpm / 60`."""

    t: float
    beat: float
    bpm: float

    def beat_at(self, t: float) -> float:
        return self.beat + (t - self.t) * self.bpm / 60.0

    def t_at(self, beat: float) -> float:
        return self.t + (beat - self.beat) * 60.0 / self.bpm


def bar_beat(beat: float, beats_per_bar: int) -> str:
    """`bar.beat`, both 1-based, of a place (a place between beats reads as its beat)."""
    whole = math.floor(beat + EPS_BEATS)
    bar, in_bar = divmod(whole, beats_per_bar)
    return f"{bar + 1}.{in_bar + 1}"


def check_bpm(bpm: float) -> float:
    bpm = float(bpm)
    if not (math.isfinite(bpm) and 1.0 <= bpm <= 999.0):
        raise ValueError(f"bad tempo {bpm:g}: a bpm is between 1 and 999")
    return bpm


class BeatGrid:
    """Beats and show time, both ways; `subscribe(cb)` hears of every change (to re-plan timers)."""

    def __init__(self, bpm: float, beats_per_bar: int = 4) -> None:
        self.beats_per_bar = int(beats_per_bar)
        self._segments: list[Segment] = [Segment(0.0, 0.0, check_bpm(bpm))]
        self._starts: list[float] = [0.0]  # segment times, for bisect
        self._listeners: list[Callable[[], None]] = []

    # -- reading --------------------------------------------------------------------------------

    @property
    def bpm(self) -> float:
        """The tempo now (of the last piece)."""
        return self._segments[-1].bpm

    @property
    def segments(self) -> tuple[Segment, ...]:
        return tuple(self._segments)

    def _segment_at(self, t: float) -> Segment:
        i = bisect.bisect_right(self._starts, t) - 1
        return self._segments[max(i, 0)]

    def beat_at(self, t: float) -> float:
        return self._segment_at(t).beat_at(t)

    def t_at(self, beat: float, after: float | None = None) -> float:
        """The first show time, at or after `after`, at which the grid has reached `beat`. A beat that
        a jump forward of the grid passed over is reached at the jump. Without `after`: on the whole
        grid (before show time 0 the first piece goes on backwards)."""
        segs = self._segments
        if after is None:
            first, start = 0, -math.inf
        else:
            first, start = max(bisect.bisect_right(self._starts, after) - 1, 0), after
        for i in range(first, len(segs)):
            seg = segs[i]
            begin = max(seg.t, start)
            if begin > -math.inf and seg.beat_at(begin) >= beat - EPS_BEATS:
                return begin
            if i + 1 == len(segs) or seg.beat_at(segs[i + 1].t) > beat + EPS_BEATS:
                return max(seg.t_at(beat), begin)
        raise AssertionError("unreachable: the last piece always answers")

    def bar_of(self, beat: float) -> int:
        return math.floor(beat / self.beats_per_bar + EPS_BEATS) + 1

    def bar_beat(self, t: float) -> str:
        return self.format(self.beat_at(t))

    def format(self, beat: float) -> str:
        return bar_beat(beat, self.beats_per_bar)

    def next_line(self, t: float, step: float) -> float:
        """Quantize: the show time of the first grid line (a multiple of `step` beats) at or after
        show time `t`. A time already on a line is its own line."""
        beat = self.beat_at(t)
        line = math.ceil(beat / step - EPS_BEATS) * step
        return self.t_at(line, after=t)

    # -- changing -------------------------------------------------------------------------------

    def set_tempo(self, t: float, bpm: float) -> None:
        """From show time `t` on, `bpm`; the beat goes on from where it is at `t`."""
        self.align(t, self.beat_at(t), bpm)

    def align(self, t: float, beat: float, bpm: float | None = None) -> None:
        """From show time `t` on, the beat is `beat` (a source that hears the beat puts it there)."""
        bpm = self.bpm if bpm is None else check_bpm(bpm)
        seg = self._segment_at(t)
        if abs(seg.beat_at(t) - beat) < EPS_BEATS and seg.bpm == bpm:
            return
        i = bisect.bisect_right(self._starts, t)
        # a change at a time before later pieces replaces them: the grid is re-laid from `t` on
        del self._segments[i:], self._starts[i:]
        if self._segments and abs(self._starts[-1] - t) < 1e-9 and len(self._segments) > 1:
            self._segments.pop(), self._starts.pop()
        self._segments.append(Segment(t, beat, bpm))
        self._starts.append(t)
        self.changed()

    def reset(self, bpm: float) -> None:
        """Back to one piece at `bpm` from show time 0 (a reload, a MIDI start)."""
        self._segments[:] = [Segment(0.0, 0.0, check_bpm(bpm))]
        self._starts[:] = [0.0]
        self.changed()

    def subscribe(self, cb: Callable[[], None]) -> Callable[[], None]:
        self._listeners.append(cb)
        return lambda: self._listeners.remove(cb) if cb in self._listeners else None

    def changed(self) -> None:
        for cb in list(self._listeners):
            cb()

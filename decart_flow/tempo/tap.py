"""Tap tempo: the TUI's `t` key and OSC `/tap`.

The tempo is 60 over the median of the last intervals between taps, so one late or doubled tap does
not throw it. A gap longer than `RESET_AFTER` (or a pause of the show) starts a new count: the taps
before it were for another song. The last tap is a beat, so the grid's beat is put on it too.
"""

from __future__ import annotations

import statistics

from .grid import check_bpm

KEEP = 8  # intervals the median is taken over
RESET_AFTER = 2.0  # seconds without a tap: the next tap starts a new count (30 bpm at the slowest)


class TapTempo:
    def __init__(self, keep: int = KEEP, reset_after: float = RESET_AFTER) -> None:
        self.keep, self.reset_after = keep, reset_after
        self._taps: list[float] = []

    @property
    def count(self) -> int:
        return len(self._taps)

    def reset(self) -> None:
        self._taps.clear()

    def tap(self, at: float) -> float | None:
        """A tap at monotonic time `at` (seconds); the tempo it gives, or None (the first tap of a count)."""
        taps = self._taps
        if taps and not (0.0 < at - taps[-1] <= self.reset_after):
            taps.clear()
        taps.append(at)
        del taps[: -(self.keep + 1)]
        if len(taps) < 2:
            return None
        interval = statistics.median(b - a for a, b in zip(taps, taps[1:]))
        try:
            return check_bpm(60.0 / interval)
        except ValueError:
            return None

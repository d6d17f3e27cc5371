"""Frame pacing for sources: a pts on a 90 kHz clock and a sleep until the frame is due.

The same idea as aiortc's VideoStreamTrack.next_timestamp, but at the model's fps and without
drift: the n-th frame is due at start + n/fps, so rounding never accumulates.
"""

from __future__ import annotations

import asyncio
import time
from fractions import Fraction

CLOCK_RATE = 90_000
TIME_BASE = Fraction(1, CLOCK_RATE)
# A consumer this far behind (a paused loop, a suspended laptop) restarts the schedule from now
# instead of bursting every missed frame out at once.
MAX_LAG = 1.0


class Pacer:
    def __init__(self, fps: float) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.fps = fps
        self.index = -1
        self._start: float | None = None

    async def next(self) -> tuple[int, Fraction]:
        """Wait until the next frame is due; return its (pts, time_base)."""
        self.index += 1
        now = time.monotonic()
        if self._start is None:
            self._start = now
        else:
            wait = self._start + self.index / self.fps - now
            if wait > 0:
                await asyncio.sleep(wait)
            elif wait < -MAX_LAG:
                self._start = now - self.index / self.fps
        return round(self.index * CLOCK_RATE / self.fps), TIME_BASE

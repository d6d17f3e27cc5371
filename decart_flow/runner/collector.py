"""Python's cycle collector, run by the show loop between cues instead of whenever it trips.

The collector holds the GIL, and so every thread, for as long as it runs. Left to itself it runs
in whichever thread happens to allocate: measured in the TUI (benchmarks/bench_tui.py), Textual's
thread set off full collections of 60-100 ms, and each one held back a cue due meanwhile (TUI cue
lateness p99 40-70 ms against 0.6 ms headless).

`Collector` freezes what exists at start (imports, the app, the session: long-lived, never worth
scanning again), turns automatic collection off, and collects from the show loop on a short
period, but only when the clock has no timer due within the pass's guard time (its base, or twice
the longest such pass so far, whichever is more): young objects every
tick, the middle generation every `MIDDLE_EVERY` ticks, everything every `FULL_EVERY` ticks. A pass
that keeps meeting cues is postponed, but never beyond `POSTPONE_MAX_S`: memory stays bounded
whatever the show does.
"""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

TICK_S = 0.05
MIDDLE_EVERY = 10  # generation 1: every 0.5 s
FULL_EVERY = 200  # generation 2: every 10 s
GUARD_S = (0.008, 0.015, 0.08)  # per generation: no timer may be due within this
POSTPONE_MAX_S = 30.0


class Collector:
    def __init__(self, loop: asyncio.AbstractEventLoop, clock: Any) -> None:
        self.loop = loop
        self.clock = clock  # engine.clock.Clock: `next_due()`
        self.running = False
        self.passes = [0, 0, 0]
        self.postponed = 0
        self.longest_ms = [0.0, 0.0, 0.0]
        self._ticks = 0
        self._owed = -1  # the generation a postponed pass still owes, or -1
        self._owed_since = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._was_enabled = True

    def start(self) -> None:
        if self.running:
            return
        self.running = True
        self._was_enabled = gc.isenabled()
        gc.collect()
        gc.freeze()
        gc.disable()
        self._timer = self.loop.call_later(TICK_S, self._tick)

    def stop(self) -> None:
        if not self.running:
            return
        self.running = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        gc.unfreeze()
        if self._was_enabled:
            gc.enable()

    def _tick(self) -> None:
        if not self.running:
            return
        self._ticks += 1
        want = 2 if self._ticks % FULL_EVERY == 0 else 1 if self._ticks % MIDDLE_EVERY == 0 else 0
        if self._owed > want:
            want = self._owed
        now = self.loop.time()
        due = self.clock.next_due()
        if due is None or due - now > self.guard(want) or (self._owed >= 0 and now - self._owed_since > POSTPONE_MAX_S):
            self._collect(want)
        else:
            if self._owed < 0:
                self._owed_since = now
            self._owed = want
            self.postponed += 1
            if want > 0 and due - now > self.guard(0):
                self._collect(0)  # the young generation still goes, the bigger pass waits
        if self.running:
            self._timer = self.loop.call_later(TICK_S, self._tick)

    def guard(self, generation: int) -> float:
        """Seconds that must be free before a pass: its base, or twice its longest pass so far."""
        return max(GUARD_S[generation], 2.0 * self.longest_ms[generation] / 1000)

    def _collect(self, generation: int) -> None:
        t0 = time.perf_counter()
        gc.collect(generation)
        ms = (time.perf_counter() - t0) * 1000
        self.passes[generation] += 1
        if ms > self.longest_ms[generation]:
            self.longest_ms[generation] = ms
        if generation >= self._owed:
            self._owed = -1

    def describe(self) -> dict[str, Any]:
        return {"passes": list(self.passes), "postponed": self.postponed,
                "longest_ms": [round(x, 2) for x in self.longest_ms]}

"""Show time: starts at 0 when the session first generates, stops while paused, jumps on GO.

Show-time timers live in one heap here; a single loop timer is armed for the earliest. Pausing
disarms it, resuming re-arms it, so nothing needs to know about pauses but this class. Timers are
either absolute (a cue at 2:30: on a jump, the engine re-plans those) or relative (a `wait:`
inside `then`, which keeps its remaining duration across a jump).
"""

from __future__ import annotations

import heapq
import itertools
from typing import Callable

from .clock import Clock

EPS = 1e-6


class ShowTimer:
    """A callback at a show time; the heap holds `(t, prio, seq, timer)` (seq is unique, so the
    comparison never reaches the timer)."""

    __slots__ = ("cb", "relative", "again", "cancelled")

    def __init__(self, cb: Callable[[], float | None], relative: bool, again: bool) -> None:
        self.cb, self.relative, self.again = cb, relative, again
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True

    dispose = cancel


Entry = tuple[float, int, int, ShowTimer]  # (show time, prio, seq, timer)


class ShowClock:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._time = clock.loop.time  # what `clock.now()` reads, without the hop
        # A virtual loop lets `_due` run the next timer at once when nothing else comes first.
        self._advance_to: Callable[[float], bool] | None = getattr(clock.loop, "advance_to", None)
        self._in_due = False
        self.started = False
        self.paused = False
        self._origin = 0.0  # loop time at which show time was 0
        self._paused_t = 0.0
        self._heap: list[Entry] = []
        self._seq = itertools.count()
        self._armed: object | None = None
        self._armed_for = 0.0  # the show time the armed loop timer is for
        self._epoch = 0
        self.plan_t: float | None = None  # set by the engine while it (re)plans: see `planning_t`

    @property
    def planning_t(self) -> float:
        """The show time triggers plan from: exactly the start or jump target while the engine
        re-plans (real time has moved on by a few microseconds), else the current show time."""
        return self.t if self.plan_t is None else self.plan_t

    @property
    def t(self) -> float:
        if not self.started:
            return 0.0
        if self.paused:
            return self._paused_t
        return self._time() - self._origin

    def mono_of(self, t: float) -> float:
        """The loop time at which show time `t` is (or was) reached, if nothing pauses."""
        return self._origin + t

    def shift(self, seconds: float) -> None:
        """Move show time on by `seconds` (back when negative) to the exact origin, whatever the time
        this call takes: a fleet node corrects its show clock by the offset it measured against the
        fleet's. Relative timers keep their remaining time, as with `jump`."""
        if self.paused:
            self.jump(self._paused_t + seconds)
            return
        origin = self._origin - seconds
        self.jump(self.t + seconds)  # the timers, re-planned as for any jump
        self._origin = origin  # ... and the origin exactly, not as of the clock readings `jump` took
        self._arm()

    def start(self, t: float = 0.0) -> None:
        self.started = True
        self._origin = self.clock.now() - t
        self._arm()

    def pause(self) -> bool:
        if not self.started or self.paused:
            return False
        self._paused_t = self.t
        self.paused = True
        self._disarm()
        return True

    def resume(self) -> bool:
        if not self.paused:
            return False
        self.paused = False
        self._origin = self.clock.now() - self._paused_t
        self._arm()
        return True

    def jump(self, t: float) -> None:
        """Set show time to `t`; relative timers keep their remaining time."""
        delta = t - self.t
        if self.paused:
            self._paused_t = t
        else:
            self._origin = self.clock.now() - t
        self._heap = [(at + delta if timer.relative else at, prio, seq, timer) for at, prio, seq, timer in self._heap]
        heapq.heapify(self._heap)
        self._epoch += 1
        self._arm()

    def call_at(self, t: float, cb: Callable[[], float | None], prio: int = 1, relative: bool = False,
                again: bool = False) -> ShowTimer:
        """Call `cb` at show time `t`. With `again`, a time `cb` returns sets the timer once more, for
        that time: a grid (`every`) keeps one timer, as if `cb` had called `call_at` last thing."""
        timer = ShowTimer(cb, relative, again)
        heap = self._heap
        heapq.heappush(heap, (t, prio, next(self._seq), timer))
        # Re-arm only when this timer is now the earliest and the armed one is not already for its
        # time; inside `_due` the arming waits for its end.
        if heap[0][3] is timer and not self._in_due and (self._armed is None or t < self._armed_for):
            self._arm()
        return timer

    def call_later(self, delay: float, cb: Callable[[], None]) -> ShowTimer:
        return self.call_at(self.t + delay, cb, relative=True)

    def clear(self) -> None:
        self._heap.clear()
        self._disarm()

    def _disarm(self) -> None:
        if self._armed is not None:
            self._armed.cancel()  # type: ignore[attr-defined]
            self._armed = None

    def _arm(self) -> None:
        if self._armed is not None:
            self._disarm()
        heap = self._heap
        while heap and heap[0][3].cancelled:
            heapq.heappop(heap)
        if heap and self.started and not self.paused:
            self._armed_for = t = heap[0][0]
            self._armed = self.clock.call_at(self._origin + t, self._due)

    def _due(self) -> None:
        self._armed = None
        epoch = self._epoch
        heap = self._heap
        now, advance_to = self._time, self._advance_to
        self._in_due = True
        try:
            while heap and not self.paused and epoch == self._epoch:
                t, prio, _, timer = heap[0]
                if timer.cancelled:
                    heapq.heappop(heap)
                    continue
                if t > now() - self._origin + EPS and not (advance_to and advance_to(self._origin + t)):
                    break
                heapq.heappop(heap)
                if timer.again:
                    again = timer.cb()
                    if again is not None and not timer.cancelled:  # set again, with a fresh seq as `call_at` gives
                        heapq.heappush(heap, (again, prio, next(self._seq), timer))
                else:
                    timer.cb()
        finally:
            self._in_due = False
        self._arm()  # for whatever is earliest now (callbacks may have added, jumped or resumed)

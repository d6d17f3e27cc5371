"""Clocks: the engine's only link to time. Real for `run`, virtual for `plan` and the tests.

Both read monotonic time from the event loop (`loop.time()`), so the rest of the engine never
knows which one it runs on. They differ in how wall-clock time maps to it and in how a timer
fires: the real clock wakes a few ms early and finishes with a short busy wait, because asyncio
timers are only as precise as the loop's other callbacks allow.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import os
import time
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any, Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

EARLY = 0.004  # wake this much before a cue's time, then spin the rest


def local_zone() -> tzinfo:
    """The machine's zone with its DST rules (not just today's offset)."""
    name = os.environ.get("TZ", "").lstrip(":")
    try:
        if name:
            return ZoneInfo(name)
        with open("/etc/localtime", "rb") as f:
            return ZoneInfo.from_file(f, key="localtime")
    except (OSError, ZoneInfoNotFoundError, ValueError):
        tz = datetime.now().astimezone().tzinfo
        return tz if tz is not None else ZoneInfo("UTC")


def shift(wall: datetime, seconds: float) -> datetime:
    """`wall` moved on by `seconds` of real time, in its own zone.

    An aware datetime plus a timedelta moves its clock reading, not the instant: across a DST
    change that is an hour off (and two times of one zone subtract as clock readings too). Real
    time is counted in UTC.
    """
    return (wall.astimezone(timezone.utc) + timedelta(seconds=seconds)).astimezone(wall.tzinfo)


def zone(name: str | None) -> tzinfo:
    return ZoneInfo(name) if name else local_zone()


class Clock:
    """Monotonic time from the loop, wall time from the system."""

    realtime = True

    def __init__(self, loop: asyncio.AbstractEventLoop, early: float = EARLY) -> None:
        self.loop = loop
        self.early = early
        # (time, seq, handle) of every timer made here: `next_due` reads the earliest still to come
        self._deadlines: list[tuple[float, int, asyncio.TimerHandle]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self.loop.time()

    def wall(self) -> datetime:
        return datetime.now(local_zone())

    def wall_at(self, mono: float) -> datetime:
        return shift(self.wall(), mono - self.now())

    def mono_for(self, wall: datetime) -> float:
        return self.mono_for_stamp(wall.timestamp())

    def mono_for_stamp(self, stamp: float) -> float:
        """`mono_for` of the wall time at POSIX timestamp `stamp`."""
        return self.now() + (stamp - self.wall().timestamp())

    def call_at(self, mono: float, cb: Callable[[], None]) -> asyncio.TimerHandle:
        """Call `cb` at `mono` as precisely as we can: an early asyncio timer, then a spin."""

        def spin_then_call() -> None:
            target = mono
            while time.monotonic() < target:
                pass
            cb()

        handle = self.loop.call_at(mono - self.early, spin_then_call)
        self._prune(self.loop.time())
        heapq.heappush(self._deadlines, (mono, next(self._seq), handle))
        return handle

    def next_due(self) -> float | None:
        """The loop time of the earliest timer still to come (cue, cron, lookahead), or None.

        Work that holds the loop (the cycle collector) runs only when this is far enough away.
        """
        self._prune(self.loop.time())
        return self._deadlines[0][0] if self._deadlines else None

    def peek_due(self) -> float | None:
        """`next_due` without tidying, safe from another thread (the TUI): it may name a timer
        that has just fired or was cancelled (`next_due` on the loop tidies those away)."""
        try:
            return self._deadlines[0][0]
        except IndexError:
            return None

    def _prune(self, now: float) -> None:
        heap = self._deadlines
        while heap and (heap[0][0] <= now or heap[0][2].cancelled()):
            heapq.heappop(heap)


class VirtualClock(Clock):
    """Virtual time on a `VirtualEventLoop`: wall time is `start_wall` plus elapsed loop time."""

    realtime = False

    def __init__(self, loop: asyncio.AbstractEventLoop, start_wall: datetime | None = None) -> None:
        super().__init__(loop, early=0.0)
        start_wall = start_wall or datetime.now(local_zone())
        if start_wall.tzinfo is None:
            start_wall = start_wall.replace(tzinfo=local_zone())
        self.start_wall = start_wall
        self.start_mono = loop.time()
        # What `shift` and `mono_for` work out from the start on every call (plan: once a firing).
        self._start_utc = start_wall.astimezone(timezone.utc)
        self._start_stamp = start_wall.timestamp()
        lean = getattr(loop, "call_at_lean", None)
        if lean is not None:  # no asyncio Handle per timer (see VirtualEventLoop)
            self.call_at = lean  # type: ignore[method-assign]

    def wall(self) -> datetime:
        return self.wall_at(self.loop.time())

    def wall_at(self, mono: float) -> datetime:
        # `shift(self.start_wall, mono - self.start_mono)` with the start in UTC worked out once
        return (self._start_utc + timedelta(seconds=mono - self.start_mono)).astimezone(self.start_wall.tzinfo)

    def mono_for(self, wall: datetime) -> float:
        return self.start_mono + (wall.timestamp() - self._start_stamp)

    def mono_for_stamp(self, stamp: float) -> float:
        return self.start_mono + (stamp - self._start_stamp)

    def call_at(self, mono: float, cb: Callable[[], None]) -> Any:
        return self.loop.call_at(mono, cb)

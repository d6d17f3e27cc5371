"""What the stream is doing: frames per second in, and when each stamp first reached the glass."""

from __future__ import annotations

import collections
import logging
import threading
import time
from typing import Callable

import av

log = logging.getLogger(__name__)


class StreamStats:
    """A frame sink counting received frames; `fps()` over the last `window` seconds."""

    def __init__(self, window: float = 2.0) -> None:
        self.window = window
        self.frames = 0
        self._times: collections.deque[float] = collections.deque()

    def __call__(self, frame: av.VideoFrame) -> None:
        now = time.monotonic()
        self.frames += 1
        self._times.append(now)
        while self._times and now - self._times[0] > self.window:
            self._times.popleft()

    def fps(self) -> float:
        """Frames per second over the last `window` seconds; 0 once the stream has stalled that long.

        Frames older than the window are left out here too: they are only pruned when a frame
        arrives, and a stalled stream must read 0, not a slowly fading figure.
        """
        now = time.monotonic()
        times = [t for t in list(self._times) if now - t <= self.window]
        if len(times) < 2:
            return 0.0
        span = max(now - times[0], times[-1] - times[0])
        return (len(times) - 1) / span if span > 0 else 0.0


class StampWatcher:
    """A frame sink that notes the `perf_counter_ns` at which each stamp value first arrived.

    Only the local service stamps its frames. Reading a stamp touches just the stamp's rows of
    the luma plane.
    """

    def __init__(self, keep: int = 1024) -> None:
        from decart_flow.service.stamp import read_stamp

        self._read = read_stamp
        self.keep = keep
        self.current: int | None = None
        self._first: collections.OrderedDict[int, int] = collections.OrderedDict()
        self._callbacks: list[Callable[[int, int], None]] = []
        self._lock = threading.Lock()

    def reset(self) -> None:
        """A new session counts from 1 again: forget the old session's values."""
        with self._lock:
            self._first.clear()
            self.current = None

    def on_stamp(self, callback: Callable[[int, int], None]) -> None:
        self._callbacks.append(callback)

    def first_seen(self, value: int) -> int | None:
        with self._lock:
            return self._first.get(value)

    def __call__(self, frame: av.VideoFrame) -> None:
        t_ns = time.perf_counter_ns()
        value = self._read(frame)
        if value is None or value == self.current:
            return
        self.current = value
        with self._lock:
            if value in self._first:
                return
            self._first[value] = t_ns
            while len(self._first) > self.keep:
                self._first.popitem(last=False)
        for callback in self._callbacks:
            try:
                callback(value, t_ns)
            except Exception:  # noqa: BLE001 - a listener never stops the stream
                log.exception("stamp callback failed")

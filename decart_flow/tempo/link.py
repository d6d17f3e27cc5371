"""Ableton Link through aalink (`pip install 'decart-flow[link]'`).

`LinkSession` is our one peer in the Link session: it joins on start, reads the session's beat and
tempo, and publishes a tempo the show sets. Times here are this process's monotonic seconds (the
asyncio loop's clock): a beat is read between two readings of `time.monotonic()` and taken at
their middle, so no mapping of Link's own clock is needed.

Link finds peers by UDP multicast on every interface: tests and benchmarks run it only inside a
network namespace of their own (tests/netns.py).
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable

INSTALL = "Ableton Link needs aalink: pip install 'decart-flow[link]'"


class LinkUnavailable(RuntimeError):
    """aalink is not installed (the message says how to install it)."""


class LinkSession:
    """Symmetric `start()` / `stop()`; `start` needs a running asyncio loop (aalink's callbacks hop to it)."""

    def __init__(self, bpm: float, quantum: float = 4.0) -> None:
        self.bpm, self.quantum = float(bpm), float(quantum)
        self._link: Any = None
        self._listeners: list[Callable[[], None]] = []

    def start(self) -> None:
        try:
            import aalink
        except ImportError:
            raise LinkUnavailable(INSTALL) from None
        link = aalink.Link(self.bpm)
        link.quantum = self.quantum
        link.enabled = True
        link.set_tempo_callback(lambda _bpm: self._changed())
        link.set_num_peers_callback(lambda _n: self._changed())
        self._link = link

    def stop(self) -> None:
        link, self._link = self._link, None
        if link is not None:
            link.enabled = False

    @property
    def running(self) -> bool:
        return self._link is not None

    def subscribe(self, cb: Callable[[], None]) -> None:
        """`cb()` when a peer changes the tempo or peers come and go (on the loop that started us)."""
        self._listeners.append(cb)

    def _changed(self) -> None:
        for cb in list(self._listeners):
            cb()

    @property
    def peers(self) -> int:
        return int(self._link.num_peers) if self._link is not None else 0

    @property
    def tempo(self) -> float:
        return float(self._link.tempo) if self._link is not None else self.bpm

    def publish(self, bpm: float) -> None:
        """Set the session's tempo (every peer follows it)."""
        self.bpm = float(bpm)
        if self._link is not None:
            self._link.tempo = self.bpm

    def sample(self) -> tuple[float, float, float]:
        """(monotonic time, the session's beat then, tempo): the tightest of three readings."""
        link = self._link
        best: tuple[float, float, float, float] | None = None
        for _ in range(3):
            m0 = time.monotonic()
            beat = link.beat
            m1 = time.monotonic()
            if best is None or m1 - m0 < best[0]:
                best = (m1 - m0, (m0 + m1) / 2, beat, link.tempo)
        assert best is not None
        return best[1], best[2], best[3]

    def beat_at(self, mono: float) -> float:
        at, beat, tempo = self.sample()
        return beat + (mono - at) * tempo / 60.0

    def next_bar(self, mono: float | None = None) -> float:
        """The monotonic time of the session's next bar line (a multiple of the quantum) from `mono`."""
        at, beat, tempo = self.sample()
        mono = at if mono is None else mono
        now_beat = beat + (mono - at) * tempo / 60.0
        line = math.ceil(now_beat / self.quantum - 1e-9) * self.quantum
        return mono + (line - now_beat) * 60.0 / tempo

"""Cue-to-glass: how long a change took from its cue's intended time to the first frame showing it.

The local service stamps every frame with a counter it bumps for each change it applied; the
session knows which stamp the frames will carry once a change is rendered (`expected_stamp`),
and the stamp watcher knows when a stamp was first seen. The intended time is the send time
minus the lateness of the cue that sent it (the engine journals that lateness). Only the last
change is measured; against the cloud there are no stamps and this stays empty.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..realtime.client import RealtimeClient
    from .stats import StampWatcher

_CHANGES = ("prompt", "set_image", "switch_camera")


class GlassMeter:
    """Listens on the session for changes sent; `tick()` pairs them with the stamps seen."""

    def __init__(self, session: RealtimeClient, stamps: StampWatcher | None) -> None:
        self.session = session
        self.stamps = stamps
        self.last_ms: float | None = None
        self._sent_s: float | None = None  # perf_counter seconds of the last change sent
        self._lateness_s = 0.0
        self._known = self.session.expected_stamp
        self._waiting: tuple[int, float] | None = None  # (stamp, intended perf_counter seconds)
        session.on("sent", self._on_sent)

    def close(self) -> None:
        try:
            self.session.off("sent", self._on_sent)
        except Exception:  # noqa: BLE001 - a session already gone forgets us anyway
            pass

    def note_record(self, record: dict[str, Any]) -> None:
        """A journal record: a `cue.fire` gives the lateness of the cue that fired last."""
        if record.get("event") == "cue.fire":
            self._lateness_s = max(0.0, float(record.get("lateness_ms") or 0.0) / 1000.0)

    def _on_sent(self, message: dict[str, Any], t_ns: int) -> None:
        if isinstance(message, dict) and message.get("type") in _CHANGES:
            self._sent_s = t_ns / 1e9

    def tick(self) -> float | None:
        """Called at a reader's tick (any thread): pair new stamps with their send, read what the watcher saw."""
        expected = self.session.expected_stamp
        if expected != self._known:
            self._known = expected
            if self._sent_s is not None and expected > 0:
                self._waiting = (expected, self._sent_s - self._lateness_s)
        if self._waiting is not None and self.stamps is not None:
            stamp, intended = self._waiting
            seen_ns = self.stamps.first_seen(stamp)
            if seen_ns is not None:
                self.last_ms = (seen_ns / 1e9 - intended) * 1000.0
                self._waiting = None
            elif time.perf_counter() - intended > 30.0:
                self._waiting = None  # never shown (superseded before a frame carried it)
        return self.last_ms


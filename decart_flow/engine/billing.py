"""What a session costs and whether it waits: the service's ticks and queue positions, journaled.

Decart bills generation by the second and says so with `generation_tick` once a second; an
installation running for weeks needs that in its journal, not only on an invoice. Over capacity,
the service holds a session in a queue and says where it stands (`queue_position`).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

log = logging.getLogger(__name__)

BILLED_EVERY_S = 60.0  # a `session.billed` line at least this often while generating


class SessionMeter:
    """Billed seconds over every connection of one session, and its place in a queue.

    `session`: the session's name in a show of several (its records then carry `"session": NAME`);
    None for a one-session show."""

    def __init__(self, write: Callable[..., None], session: str | None = None) -> None:
        self._write = write
        self._tag = {"session": session} if session is not None else {}
        self.changed: Callable[[], None] = lambda: None  # the engine repaints its state
        self._session: Any = None
        self._done = 0.0  # seconds billed by connections that are over
        self._current = 0.0  # the running connection's last tick
        self._written_at: float | None = None  # monotonic time of the last session.billed
        self.queue: tuple[int, int] | None = None  # (position, queue size) while waiting
        self._subscribed: list[tuple[str, Callable[..., None]]] = []

    def attach(self, session: Any) -> None:
        """Meter `session`'s ticks; queue positions come through `queue_position` (connect waits)."""
        self._session = session
        for event, callback in (("generation_tick", self._tick), ("connection_change", self._connection)):
            try:
                session.on(event, callback)
            except Exception:  # noqa: BLE001 - a session without the event has nothing to meter
                continue
            self._subscribed.append((event, callback))

    @property
    def billed_seconds(self) -> float:
        return self._done + self._current

    def _tick(self, tick: Any) -> None:
        seconds = float(getattr(tick, "seconds", 0) or 0)
        if seconds < self._current:  # a new connection counts from 0 again
            self._done += self._current
        self._current = seconds
        self.queue = None
        now = time.monotonic()
        if self._written_at is None or now - self._written_at >= BILLED_EVERY_S:
            self._journal(now)
        self.changed()

    def queue_position(self, position: Any) -> None:
        """The client's `on_queue_position`: journal where this session waits."""
        self.queue = (int(position.position), int(position.queue_size))
        self._write("session.queue", **self._tag, position=self.queue[0], queue_size=self.queue[1])
        self.changed()

    def _connection(self, state: Any) -> None:
        if str(state) in ("reconnecting", "disconnected") and self._current:
            self._journal(time.monotonic())
            self._done += self._current
            self._current = 0.0

    def _journal(self, now: float) -> None:
        self._written_at = now
        self._write("session.billed", **self._tag, seconds=round(self.billed_seconds, 1))

    def close(self) -> None:
        """The last word: what the whole run was billed."""
        for event, callback in self._subscribed:
            try:
                self._session.off(event, callback)
            except Exception:  # noqa: BLE001
                pass
        self._subscribed.clear()
        if self.billed_seconds:
            self._journal(time.monotonic())

"""Send-to-glass latency: how long a change takes from the WebSocket write to the first frame that shows it.

`lookahead: auto` sends a cue that much early, so the change is on screen at the cued time. The
estimate is the median of the last few measurements: one frame stuck behind a slow encode must not
move every later cue. Before the first measurement (and in `plan`) it is two frame intervals.

`LatencyFeed` measures it on a live run against the local service, whose frames carry a stamp: a
prompt or image acknowledged as the k-th change of the session shows on the first frame stamped k.
"""

from __future__ import annotations

import asyncio
import statistics
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..media.stats import StampWatcher
    from ..realtime.client import RealtimeClient

DEFAULT_FRAMES = 2.0  # the estimate before anything was measured, in frame intervals
SANE = (0.001, 5.0)  # a measured pair outside this (seconds) was paired wrongly: ignored
CLAMP = (0.0, 1.0)  # the estimate never asks to send more than this early


@dataclass
class LatencyEstimator:
    """A running send-to-glass estimate in seconds: the median of the last `window` measurements."""

    default: float = DEFAULT_FRAMES / 25
    window: int = 9
    clamp: tuple[float, float] = CLAMP
    samples: deque[float] = field(default_factory=deque)
    rejected: int = 0

    @classmethod
    def for_fps(cls, fps: float, **kwargs: Any) -> LatencyEstimator:
        return cls(default=DEFAULT_FRAMES / fps, **kwargs)

    def add(self, sent: float, glass: float) -> bool:
        """One measurement (both times on one clock, in seconds); False when it was not believable."""
        latency = glass - sent
        if not SANE[0] <= latency <= SANE[1]:
            self.rejected += 1
            return False
        self.samples.append(latency)
        while len(self.samples) > self.window:
            self.samples.popleft()
        return True

    @property
    def measured(self) -> bool:
        return bool(self.samples)

    @property
    def seconds(self) -> float:
        value = statistics.median(self.samples) if self.samples else self.default
        low, high = self.clamp
        return min(high, max(low, value))


KINDS = {"prompt": "prompt_ack", "set_image": "set_image_ack"}  # message type -> its ack's kind


class LatencyFeed:
    """Feeds an estimator from a live session: write time of each acknowledged change, glass time of its stamp.

    The engine keeps one change in flight, so an ack belongs to the last message of its kind. After
    the ack, `expected_stamp` is that change's stamp; the StampWatcher says when it first arrived
    (its callbacks come on the media thread: they hop to the loop). Attach after the session
    connects; `close()` when the run ends.
    """

    def __init__(self, estimator: LatencyEstimator, session: RealtimeClient, stamps: StampWatcher,
                 loop: asyncio.AbstractEventLoop, keep: int = 64) -> None:
        self.estimator, self.session, self.stamps, self.loop = estimator, session, stamps, loop
        self.keep = keep
        self._sent: dict[str, int] = {}  # ack kind -> perf_counter_ns of the last write of that kind
        self._waiting: dict[int, int] = {}  # stamp -> write ns, acknowledged but not yet seen
        self._closed = False
        session.on("sent", self._on_sent)
        session.on("ack", self._on_ack)
        session.on("connection_change", self._on_connection)
        stamps.on_stamp(self._on_stamp)

    def close(self) -> None:
        self._closed = True
        for event, cb in (("sent", self._on_sent), ("ack", self._on_ack), ("connection_change", self._on_connection)):
            self.session.off(event, cb)

    def _on_sent(self, message: dict[str, Any], t_ns: int) -> None:
        kind = KINDS.get(str(message.get("type")))
        if kind is not None:
            self._sent[kind] = t_ns

    def _on_ack(self, kind: str, success: bool, latency_ms: float, error: str | None) -> None:
        sent_ns = self._sent.pop(kind, None)
        if not success or sent_ns is None or self._closed:
            return
        stamp = self.session.expected_stamp
        glass_ns = self.stamps.first_seen(stamp)
        if glass_ns is not None and glass_ns > sent_ns:  # the frame came before the ack
            self.estimator.add(sent_ns / 1e9, glass_ns / 1e9)
            return
        self._waiting[stamp] = sent_ns
        while len(self._waiting) > self.keep:
            del self._waiting[next(iter(self._waiting))]

    def _on_stamp(self, value: int, t_ns: int) -> None:
        """On the media thread."""
        if not self._closed:
            self.loop.call_soon_threadsafe(self._glass, value, t_ns)

    def _glass(self, value: int, t_ns: int) -> None:
        sent_ns = self._waiting.pop(value, None)
        if sent_ns is not None and t_ns > sent_ns and not self._closed:
            self.estimator.add(sent_ns / 1e9, t_ns / 1e9)

    def _on_connection(self, state: Any) -> None:
        if str(state) in ("reconnecting", "disconnected"):  # stamps count again from 0 in a new session
            self._sent.clear()
            self._waiting.clear()

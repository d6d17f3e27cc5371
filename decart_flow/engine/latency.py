"""Send-to-glass latency: how long a change takes from the WebSocket write to the first frame that shows it.

`lookahead: auto` sends a cue that much early, so the change is on screen at the cued time. The
estimate is the median of the last few measurements: one frame stuck behind a slow encode must not
move every later cue. Before the first measurement (and in `plan`) it is two frame intervals.

`LatencyFeed` measures it on a live run against the local service, whose frames carry a stamp: a
prompt or image acknowledged as the k-th change of the session shows on the first frame stamped k.
`calibrate` measures it before the show's first change, so that its first cues land as well as the
later ones instead of on the default's guess.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Protocol

if TYPE_CHECKING:
    from ..media.stats import StampWatcher
    from .clock import Clock
    from .executor import Executor
    from ..realtime.client import RealtimeClient

log = logging.getLogger(__name__)

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
    accepted: int = 0  # measurements taken in all (the window keeps the last `window`)
    provisional: int = 0  # the samples are calibration's: the first measured change replaces them

    @classmethod
    def for_fps(cls, fps: float, **kwargs: Any) -> LatencyEstimator:
        return cls(default=DEFAULT_FRAMES / fps, **kwargs)

    def add(self, sent: float, glass: float) -> bool:
        """One measurement (both times on one clock, in seconds); False when it was not believable."""
        latency = glass - sent
        if not SANE[0] <= latency <= SANE[1]:
            self.rejected += 1
            return False
        if self.provisional:  # the first measured change replaces the calibration rounds
            self.samples.clear()
            self.provisional = 0
        self.samples.append(latency)
        self.accepted += 1
        while len(self.samples) > self.window:
            self.samples.popleft()
        return True

    @property
    def measured(self) -> bool:
        return bool(self.samples)

    @property
    def seconds(self) -> float:
        if not self.samples:
            value = self.default
        else:
            import statistics  # here: `plan` imports this module and never measures (statistics costs 7 ms)

            value = statistics.median(self.samples)
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

    @property
    def closed(self) -> bool:
        return self._closed

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


CALIBRATION_ROUNDS = 8
CALIBRATION_KEEP = 3  # the last rounds are the ones kept: the stream's first second runs slow
CALIBRATION_GAP_S = 0.1
STREAM_WAIT_S = 10.0  # how long calibration waits for the first stamped frame
MEASURE_WAIT_S = 1.0  # how long one round waits for its frame
QUIET_S = 0.3  # a round is sent only when no timer of the show is due sooner than this


class _Engine(Protocol):
    executor: Executor
    lanes: list[Any]  # each session's lane (engine/lanes.py): its executor


def show_idle(engine: _Engine, clock: Clock, quiet: float = QUIET_S) -> Callable[[], bool]:
    """`idle()` for `calibrate`: no call of the show in flight, and no timer of it due within `quiet`."""

    def idle() -> bool:
        due = clock.next_due()
        lanes = getattr(engine, "lanes", None)
        executors = [lane.executor for lane in lanes] if lanes else [engine.executor]
        return all(e.in_flight is None for e in executors) and (due is None or due - clock.loop.time() > quiet)

    return idle


async def calibrate(feed: LatencyFeed, idle: Callable[[], bool], rounds: int = CALIBRATION_ROUNDS,
                    keep: int = CALIBRATION_KEEP) -> list[float]:
    """Measure send-to-glass before the show changes anything: send the current prompt again.

    On the local service a prompt sent again changes the stamp and nothing else, so the picture
    stays while `feed` measures a real change of this session on this machine: the look is drawn
    and the frame encoded as for any prompt. Each round runs only while `idle()` says nothing of
    the show is in flight or due soon: the show's own changes come first (and measure themselves).
    Stops quietly at the first round it cannot run: not idle, the session gone, or no prompt
    showing. A reference image is not sent again (it is big), and passthrough would measure too
    short (the service draws nothing for it: 8-22 ms against ~45 ms for a look, measured).

    In the stream's first second both ends are still sending keyframes and ramping their encoders,
    and a change takes two or three times as long as later on, so the rounds go on while the show
    is idle and the estimate keeps only the last `keep` of them. A prompt sent again is cheaper to
    encode than a new look (only the stamp moves), so these read 10-15 ms short: they are
    provisional, and the first change the show makes replaces them all (measured: with one
    replaced per change, the second and third cues of a run still landed 21 and 28 ms late).
    Returns the seconds measured.
    """
    session, stamps, estimator = feed.session, feed.stamps, feed.estimator
    deadline = time.monotonic() + STREAM_WAIT_S
    while stamps.first_seen(session.expected_stamp) is None:  # the stream is not on screen yet
        if time.monotonic() > deadline or feed.closed:
            return []
        await asyncio.sleep(0.02)
    measured: list[float] = []
    for _ in range(rounds):
        state = session.current_state
        if feed.closed or not idle() or state.prompt is None or state.image is not None:
            break
        count = estimator.accepted
        try:
            await session.set_prompt(state.prompt.text, enrich=state.prompt.enrich)
        except Exception as exc:  # noqa: BLE001 - a calibration that cannot run is not the show's failure
            log.debug("lookahead calibration stopped: %s", exc)
            break
        deadline = time.monotonic() + MEASURE_WAIT_S
        while estimator.accepted == count:
            if time.monotonic() > deadline or feed.closed:
                break
            await asyncio.sleep(0.005)
        else:
            measured.append(estimator.samples[-1])
        await asyncio.sleep(CALIBRATION_GAP_S)
    tail = list(estimator.samples)[-len(measured):] if measured else []
    if tail and tail == measured[-len(tail):]:  # nothing of the show's among them
        estimator.samples = deque(measured[-keep:])
        estimator.provisional = len(estimator.samples)
    return measured

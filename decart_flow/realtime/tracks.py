"""Remote tracks as the user sees them: read on the media thread, handed over to the user's loop.

One pump task per remote track reads every frame on the media loop, gives video frames to the
frame sinks there, and leaves the newest few in a `HoppingTrack` that the user awaits on their own
loop. The pump always drains aiortc's receiver, so a track nobody reads costs no memory, and the
user's loop is only woken when someone is actually waiting in `recv()`.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
from typing import Any, Callable

from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from decart_flow.realtime.media_loop import wake

log = logging.getLogger(__name__)

FrameSink = Callable[[Any], None]

# Frames kept for a slow reader: enough to ride out a hiccup, few enough to stay live.
BUFFERED_FRAMES = 4


class HoppingTrack(MediaStreamTrack):
    """A read-only track whose `recv()` works on the loop that created it."""

    def __init__(self, kind: str, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.kind = kind
        self._loop = loop
        self._lock = threading.Lock()
        self._frames: collections.deque[Any] = collections.deque(maxlen=BUFFERED_FRAMES)
        self._waiter: asyncio.Future[None] | None = None
        self._ended = False
        self.dropped = 0

    async def recv(self) -> Any:
        while True:
            with self._lock:
                if self._frames:
                    return self._frames.popleft()
                if self._ended or self.readyState != "live":
                    raise MediaStreamError
                waiter = self._waiter = self._loop.create_future()
            try:
                await waiter
            finally:
                with self._lock:
                    if self._waiter is waiter:
                        self._waiter = None

    def push(self, frame: Any) -> None:
        """Called from the media thread for every frame."""
        with self._lock:
            if len(self._frames) == self._frames.maxlen:
                self.dropped += 1
            self._frames.append(frame)
            waiter = self._waiter
        if waiter is not None:
            wake(self._loop, _release, waiter)

    def end(self, drop_buffered: bool = False) -> None:
        """The remote track is over: readers get MediaStreamError once the buffer is empty."""
        with self._lock:
            self._ended = True
            if drop_buffered:
                self._frames.clear()
            waiter = self._waiter
        if waiter is not None:
            wake(self._loop, _release, waiter)

    def stop(self) -> None:
        super().stop()
        self.end()


def _release(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


async def pump(
    track: MediaStreamTrack,
    proxy: HoppingTrack,
    sinks: Callable[[], tuple[FrameSink, ...]],
    on_video: Callable[[], None] | None = None,
) -> None:
    """Media-loop task: every frame of `track` to the sinks (video only) and then to `proxy`.

    `on_video()` is told of every video frame first (the client's stall watchdog)."""
    try:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                break
            if track.kind == "video":
                if on_video is not None:
                    on_video()
                for sink in sinks():
                    try:
                        sink(frame)
                    except Exception:
                        log.exception("frame sink %r failed; the stream goes on", sink)
            proxy.push(frame)
    finally:
        proxy.end()

"""Media of one session: the paced output track and the readers of the client's tracks."""

from __future__ import annotations

import asyncio
import logging
import time
from fractions import Fraction
from typing import Callable

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from decart_flow.service.avatar import Loudness
from decart_flow.service.encoder import Vp8Stream
from decart_flow.service.renderer import Renderer

log = logging.getLogger(__name__)

VIDEO_CLOCK = 90_000


class LatestFrame:
    """The client's most recent video frame: output is paced by our clock, not by arrivals."""

    def __init__(self) -> None:
        self.frame: av.VideoFrame | None = None
        self.received = 0


async def read_video(track: MediaStreamTrack, latest: LatestFrame) -> None:
    """Keep `latest` current until the track ends."""
    try:
        while True:
            latest.frame = await track.recv()
            latest.received += 1
    except MediaStreamError:
        pass


async def read_audio(track: MediaStreamTrack, loudness: Loudness) -> None:
    """Consume every audio frame (a client's play_audio waits on us) and track its loudness."""
    try:
        while True:
            frame = await track.recv()
            loudness.feed(frame.to_ndarray())
    except MediaStreamError:
        pass


class OutputTrack(MediaStreamTrack):
    """The restyled video, one frame every 1/fps seconds of a monotonic clock.

    Rendering and encoding run in worker threads, so the loop stays free for signaling and RTP.
    Behind by more than half a second, the clock starts afresh instead of bursting.

    A state change (prompt, image, mirror) is drawn at once and the frame clock runs on from that
    frame, so it shows one render and encode after it came rather than up to a frame interval
    later: that is what lets `lookahead: auto` land a change within the encode-time jitter
    (benchmarks/bench_glass.py), for at most one extra frame per change. A change during a render
    is drawn into that frame (the render runs again); one during an encode is drawn at once by a
    second worker beside it. The periodic keyframe never falls on a change's first frame
    (encoder.py).
    """

    kind = "video"

    def __init__(
        self,
        renderer: Renderer,
        latest: LatestFrame,
        loudness: Loudness,
        on_first_frame: Callable[[], None] | None = None,
        stall_after: float | None = None,
        keyframe_interval: float = 2.0,
    ) -> None:
        super().__init__()
        self._renderer = renderer
        self._latest = latest
        self._loudness = loudness
        self._on_first_frame = on_first_frame
        self._stall_after = stall_after
        self._fps = renderer.model.fps
        self._start: float | None = None
        self._began = 0.0
        self._index = 0
        self._segment_pts = 0  # the RTP time (VIDEO_CLOCK ticks since the first frame) the frame clock last restarted at
        self._last_pts = -1
        self.sent = 0
        self._encoder: Vp8Stream | None = None
        self._busy = 0.0  # seconds spent producing frames since the last report
        self._changed = False  # a state change waits for the next frame: render it at once
        self._changes = 0  # how many changes came so far (read by the worker thread)
        self._wake: asyncio.Event | None = None
        self._first: asyncio.Future[av.VideoFrame | av.Packet] | None = None
        self._encoding = False  # a worker thread is encoding a frame (set and cleared there)
        self._early: asyncio.Future[tuple[int, av.VideoFrame]] | None = None  # a change drawn meanwhile
        self._shown = 0  # the change count of the last frame encoded
        self._since_key = 0  # frames encoded since the last keyframe, itself included (frame 0 is one)
        self._key_every = max(1, round(self._fps * keyframe_interval))  # frames (with our encoder)

    def encode_vp8_here(self) -> None:
        """Hand aiortc finished VP8 packets (see encoder.py); only when VP8 was negotiated."""
        self._encoder = Vp8Stream(self._renderer.model.width, self._renderer.model.height, self._fps)

    def force_keyframe(self) -> None:
        """The next frame our encoder makes is a keyframe: a new subscriber can start from it."""
        self._since_key = self._key_every

    def show_change(self) -> None:
        """The state changed: the next frame is rendered now, and the frame clock runs on from it."""
        self._changed = True
        self._changes += 1
        if self._wake is not None:
            self._wake.set()
        # Mid-render, the render itself draws the frame again (`_render`); mid-encode, draw it now.
        if self._encoding and self._early is None and self.readyState == "live":
            loop = asyncio.get_running_loop()
            self._early = loop.run_in_executor(None, self._render, self._latest.frame, self._loudness.level)

    def prepare_first_frame(self) -> None:
        """Render and encode frame 0 now, while ICE and DTLS connect, rather than when it is asked for.

        It is a keyframe (~50 ms at 1280x704) and the client's video has not arrived yet, so it is
        the waiting picture with the current stamp either way; a state change before it goes out
        shows from frame 1. Call after `encode_vp8_here` (or not), once the answer is set.
        """
        if self._first is None and self.sent == 0:
            loop = asyncio.get_running_loop()
            self._first = loop.run_in_executor(None, self._produce, self._latest.frame, self._loudness.level, 0)

    def _restart_clock(self, now: float, behind: bool = False) -> None:
        """The frame clock starts again at `now`: a change shown at once (its frame takes the next
        frame's RTP time, so the stream's cadence holds), or the output fell behind (the RTP time
        jumps to the wall time, as a camera's does when it drops frames, so a receiver's recording
        keeps the show's length rather than losing what was never produced)."""
        if behind:
            self._segment_pts = max(round((now - self._began) * VIDEO_CLOCK), self._last_pts + 1)
        else:
            self._segment_pts += self._index * VIDEO_CLOCK // self._fps
        self._start, self._index = now, 0

    async def recv(self) -> av.VideoFrame | av.Packet:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = self._began = now
        due = self._start + self._index / self._fps
        if due > now and not self._changed:
            self._wake = asyncio.Event()
            try:
                await asyncio.wait_for(self._wake.wait(), due - now)
            except asyncio.TimeoutError:
                pass
            self._wake = None
        if self._changed and self._index > 0:
            self._changed = False
            self._restart_clock(time.monotonic())
        elif now - due > 0.5:
            log.debug("output fell %.2fs behind; restarting the frame clock", now - due)
            self._restart_clock(now, behind=True)
        if self._stall_after is not None and time.monotonic() - self._began >= self._stall_after:
            log.info("fault: stalling video")
            await asyncio.Event().wait()  # until the track is stopped and this task cancelled
        pts = self._segment_pts + self._index * VIDEO_CLOCK // self._fps
        self._last_pts = pts
        first, self._first = self._first, None
        early, self._early = self._early, None
        rendered = None
        if early is not None:
            try:
                rendered = await early
            except Exception:  # noqa: BLE001 - the frame is drawn again below, and fails there if it must
                log.exception("drawing a change early failed")
        if rendered is not None and rendered[0] != self._changes:
            rendered = None  # yet another change since: draw the latest
        if first is not None and pts == 0:
            out = await first
        else:
            loop = asyncio.get_running_loop()
            out = await loop.run_in_executor(None, self._produce, self._latest.frame, self._loudness.level, pts,
                                             rendered)
        self._index += 1
        self.sent += 1
        if self.sent % 100 == 0:
            log.debug("output: %d frames, %.1f ms per frame to produce, %.0f ms behind", self.sent, self._busy * 10, max(0.0, time.monotonic() - due) * 1000)
            self._busy = 0.0
        if self.sent == 1 and self._on_first_frame is not None:
            self._on_first_frame()
        return out

    def _produce(self, source: av.VideoFrame | None, level: float, pts: int,
                 rendered: tuple[int, av.VideoFrame] | None = None) -> av.VideoFrame | av.Packet:
        """Render (unless `rendered` is given) and, with our own encoder, encode one frame; in a worker thread."""
        began = time.perf_counter()
        try:
            changes, frame = rendered if rendered is not None else self._render(source, level)
            return self._encode(changes, frame, pts)
        finally:
            self._busy += time.perf_counter() - began

    def _render(self, source: av.VideoFrame | None, level: float) -> tuple[int, av.VideoFrame]:
        """The frame of the current state, and the change count it shows."""
        changes = self._changes
        frame = self._renderer.render(source, level)
        if self._changes != changes:  # a change came while this frame was drawn: draw it again with it
            changes = self._changes
            frame = self._renderer.render(source, level)
        return changes, frame

    def _encode(self, changes: int, frame: av.VideoFrame, pts: int) -> av.VideoFrame | av.Packet:
        frame.pts = pts
        frame.time_base = Fraction(1, VIDEO_CLOCK)
        if self._encoder is None:
            return frame
        first_of_change, self._shown = changes != self._shown, changes
        keyframe = self._since_key >= self._key_every and not first_of_change  # else the next frame
        self._since_key = 1 if keyframe else self._since_key + 1
        self._encoding = True
        try:
            packet = self._encoder.encode(frame, keyframe)
        finally:
            self._encoding = False
        return packet if packet is not None else frame

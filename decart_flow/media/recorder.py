"""The transformed stream to an mp4 that plays even if the process dies mid-show.

Fragmented MP4 (a moof per keyframe, the moov up front) is valid after every fragment: Ctrl-C,
SIGKILL or a power cut lose at most the last second or so.

Timestamps follow the stream's RTP clock (a received frame's pts, 90 kHz): the service's capture
times, so the recording plays at the pace it was rendered (arrival times jitter, and ffmpeg then
warns about non-monotonic DTS when re-encoding). Where that clock cannot be followed (no pts, a pts
that does not move on, or a drift over `RESYNC_S` from the arrival times: a reconnect, or the
service's frame clock starting afresh after a stall) a frame's step is its arrival step until the
RTP clock is taken up again, so an outage stays a gap instead of being squeezed out.

Encoding runs on a thread of its own behind a bounded queue: the media thread only enqueues, and
an encoder that falls behind drops and counts frames rather than stalling the stream.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
from fractions import Fraction
from pathlib import Path
from typing import Callable

import av

from decart_flow.media.errors import RecorderError
from decart_flow.media.yuv import frame_planes

log = logging.getLogger(__name__)

QUEUE_FRAMES = 50  # two seconds at 25 fps
TIME_BASE = Fraction(1, 90000)  # RTP's video clock: the recording keeps the stream's own ticks
RESYNC_S = 0.2  # RTP time and arrival time drifted further apart than this: follow arrival again
_END = object()


class Recorder:
    """A frame sink: `start()`, call it with every received frame, `stop()` to finalize."""

    def __init__(self, path: str | Path, fps: float, on_error: Callable[[str], None] | None = None) -> None:
        self.path = Path(path)
        self.fps = fps
        self.on_error = on_error
        self.frames = 0
        self.dropped = 0
        self.error: str | None = None
        self.encode_seconds = 0.0  # worker time spent encoding and writing: the recorder's cost
        self._queue: queue.Queue[object] = queue.Queue(QUEUE_FRAMES)
        self._thread: threading.Thread | None = None
        self._last_pts = -1  # in TIME_BASE
        self._last_arrived = 0.0
        self._anchor: tuple[Fraction, int, float] | None = None  # (RTP time in s, pts, arrival) of one frame
        self._last_rtp: Fraction | None = None

    def start(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "wb"):
                pass
        except OSError as exc:
            raise RecorderError(f"cannot record to {self.path}: {exc.strerror or exc}; choose a writable path") from None
        self._thread = threading.Thread(target=self._run, name="decart-recorder", daemon=True)
        self._thread.start()
        # A process that ends without stop() (Ctrl-C in a script) still closes the file, while the
        # interpreter is whole. Left to interpreter teardown with the encoder thread mid-frame, a
        # process once failed to exit within 10 s of Ctrl-C (in CI; not reproduced since).
        atexit.register(self.stop)

    def __call__(self, frame: av.VideoFrame) -> None:
        if self._thread is None or self.error is not None:
            return
        try:
            self._queue.put_nowait((frame, time.monotonic()))
        except queue.Full:
            self.dropped += 1

    def stop(self) -> None:
        if self._thread is None:
            return
        thread, self._thread = self._thread, None
        atexit.unregister(self.stop)
        while True:  # make room for the end marker: the newest frames matter less than a clean close
            try:
                self._queue.put(_END, timeout=0.2)
                break
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    self.dropped += 1
                except queue.Empty:
                    pass
        thread.join(timeout=10.0)

    # ------------------------------------------------------------------ the encoder thread

    def _run(self) -> None:
        container = None
        stream = None
        try:
            container = av.open(str(self.path), mode="w", format="mp4",
                                options={"movflags": "frag_keyframe+empty_moov+default_base_moof",
                                         "flush_packets": "1"})
            while True:
                item = self._queue.get()
                if item is _END:
                    break
                frame, arrived = item  # type: ignore[misc]
                if stream is None:
                    stream = self._open_stream(container, frame)
                self._encode(container, stream, frame, arrived)
            if stream is not None:
                for packet in stream.encode(None):
                    container.mux(packet)
        except (OSError, av.FFmpegError, ValueError) as exc:
            self._fail(exc)
        finally:
            if container is not None:
                try:
                    container.close()
                except (OSError, av.FFmpegError, ValueError) as exc:
                    self._fail(exc)
            if self.frames == 0 and self.error is None:
                # No frame ever came (stopped while connecting): an empty mp4 plays nowhere.
                self.path.unlink(missing_ok=True)
                log.warning("no frame arrived: nothing recorded to %s", self.path)

    def _open_stream(self, container: av.container.OutputContainer, frame: av.VideoFrame) -> av.VideoStream:
        stream = container.add_stream("libx264", rate=Fraction(self.fps).limit_denominator(1000))
        stream.width, stream.height = frame.width // 2 * 2, frame.height // 2 * 2
        stream.pix_fmt = "yuv420p"
        stream.time_base = TIME_BASE
        stream.codec_context.time_base = TIME_BASE  # frames carry RTP ticks (see the module's doc)
        stream.codec_context.options = {"preset": "ultrafast", "tune": "zerolatency",
                                        "g": str(int(self.fps * 1)), "crf": "20"}
        return stream

    def _encode(self, container: av.container.OutputContainer, stream: av.VideoStream, frame: av.VideoFrame,
                arrived: float) -> None:
        started = time.perf_counter()
        pts = self._pts(frame, arrived)
        out = _own_copy(frame, stream.width, stream.height)
        out.pts = pts
        out.time_base = TIME_BASE
        for packet in stream.encode(out):
            container.mux(packet)
        self.frames += 1
        self.encode_seconds += time.perf_counter() - started

    def _pts(self, frame: av.VideoFrame, arrived: float) -> int:
        """The frame's recording pts in TIME_BASE: its RTP time from the anchor, else by arrival."""
        rtp = frame.pts * frame.time_base if frame.pts is not None and frame.time_base else None
        last, last_rtp = self._last_pts, self._last_rtp
        anchor, pts = self._anchor, None
        if rtp is not None and anchor is not None and last_rtp is not None and rtp > last_rtp:
            since = rtp - anchor[0]
            if abs(float(since) - (arrived - anchor[2])) <= RESYNC_S:  # still the clock we follow
                pts = anchor[1] + round(since / TIME_BASE)
        if pts is None or pts <= last:  # the first frame, no RTP time, or a new or drifted clock
            pts = 0 if last < 0 else last + max(1, round((arrived - self._last_arrived) / TIME_BASE))
            self._anchor = (rtp, pts, arrived) if rtp is not None else None
        self._last_pts, self._last_arrived, self._last_rtp = pts, arrived, rtp
        return pts

    def _fail(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = f"recording to {self.path} stopped: {exc}"
            log.error("%s", self.error)
            if self.on_error is not None:
                try:
                    self.on_error(self.error)
                except Exception:  # noqa: BLE001
                    log.exception("recorder error callback failed")
        # Drain so that the media thread never blocks on a dead recorder.
        try:
            while True:
                self._queue.get_nowait()
        except queue.Empty:
            pass


def _own_copy(frame: av.VideoFrame, width: int, height: int) -> av.VideoFrame:
    """A yuv420p frame of the recording's size that the recorder may re-time.

    The received frame is shared with the other sinks, so its pts is not ours to change; and a
    stream whose size changes mid-show (a reconnect to another model) is scaled to the first size
    rather than ending the recording.
    """
    if (frame.width, frame.height, frame.format.name) != (width, height, "yuv420p"):
        return frame.reformat(width=width, height=height, format="yuv420p")
    out = av.VideoFrame(width, height, "yuv420p")
    for src, dst in zip(frame_planes(frame), frame_planes(out)):
        dst[:] = src
    return out

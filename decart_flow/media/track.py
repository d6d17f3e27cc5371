"""The base of every source: an aiortc video track that paces frames at the model's fps."""

from __future__ import annotations

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from decart_flow.media.pacing import Pacer
from decart_flow.media.stats import StreamStats


class PacedSource(MediaStreamTrack):
    """A video track that asks `make_frame(index)` for a frame each 1/fps and stamps its pts.

    `make_frame` runs on the media loop, so it must be cheap and never block: sources that decode
    do it on a worker thread and hand frames over through a queue.
    """

    kind = "video"

    def __init__(self, width: int, height: int, fps: float) -> None:
        super().__init__()
        self.width = width
        self.height = height
        self.fps = fps
        self._pacer = Pacer(fps)
        self.sent = StreamStats()  # frames handed to the encoder: the stream's "fps out"

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        pts, time_base = await self._pacer.next()
        frame = self.make_frame(self._pacer.index)
        frame.pts = pts
        frame.time_base = time_base
        self.sent(frame)
        return frame

    def fps_out(self) -> float:
        """Frames per second this source actually sent, over the last two seconds."""
        return self.sent.fps()

    def make_frame(self, index: int) -> av.VideoFrame:
        raise NotImplementedError

    def stop(self) -> None:
        """End the track and release what the source holds (files, threads, devices)."""
        super().stop()
        self.release()

    def release(self) -> None:
        """Free the source's resources; called once by `stop()`."""

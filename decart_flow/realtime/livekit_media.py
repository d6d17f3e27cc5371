"""The media half of a session of today's protocol: a LiveKit room, joined with the `livekit` package.

The control channel (prompts, acks, ticks) stays on the WebSocket in `client.py`; this class only
joins the room named by `livekit_room_info`, publishes the local video and hands the
`inference-server-*` participant's video to the same pump, sinks and `HoppingTrack` that the
2025 peer connection feeds. Everything here runs on the client's media loop: the room's events
and frame streams are bound to that loop, so the scheduling loop never waits on them.

Mirror has no message in this era: as Decart's SDKs do, the frames are flipped before they are sent.
"""

from __future__ import annotations

import asyncio
import fractions
import logging
from typing import Any, Callable

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

log = logging.getLogger(__name__)

INFERENCE_PREFIX = "inference-server-"
VIDEO_CLOCK = fractions.Fraction(1, 90_000)  # what aiortc's frames carry: sinks see one time base


class RemoteVideo(MediaStreamTrack):
    """A LiveKit remote video track as an aiortc-style track: `recv()` gives `av.VideoFrame`s."""

    kind = "video"

    def __init__(self, stream: Any) -> None:
        super().__init__()
        self._stream = stream
        self._iter = stream.__aiter__()

    async def recv(self) -> av.VideoFrame:
        try:
            event = await self._iter.__anext__()
        except (StopAsyncIteration, asyncio.CancelledError):
            raise MediaStreamError from None
        frame = event.frame
        width, height = frame.width, frame.height
        planes = np.frombuffer(frame.data, dtype=np.uint8)
        out = av.VideoFrame.from_ndarray(planes[: width * height * 3 // 2].reshape(height * 3 // 2, width), format="yuv420p")
        out.pts = event.timestamp_us * 9 // 100
        out.time_base = VIDEO_CLOCK
        return out

    async def close(self) -> None:
        self.stop()
        await self._stream.aclose()


def i420(frame: av.VideoFrame, width: int, height: int, mirror: bool) -> bytes:
    """The frame as packed I420 at `width` x `height`, flipped left to right when `mirror`."""
    if frame.format.name != "yuv420p" or frame.width != width or frame.height != height:
        frame = frame.reformat(width=width, height=height, format="yuv420p")
    packed = frame.to_ndarray()  # (h * 3/2, w): Y rows, then U and V two chroma rows per line
    if not mirror:
        return packed.tobytes()
    y = packed[:height][:, ::-1]
    chroma = packed[height:].reshape(2, height // 2, width // 2)[:, :, ::-1]
    return y.tobytes() + chroma.tobytes()


class LiveKitMedia:
    """One room: symmetric `join()` / `close()`, both on the media loop."""

    def __init__(
        self,
        local_track: MediaStreamTrack | None,
        width: int,
        height: int,
        on_remote: Callable[[MediaStreamTrack], None],
        on_lost: Callable[[str], None],
        on_state: Callable[[str], None] = lambda state: None,
    ) -> None:
        self.local_track = local_track
        self.width, self.height = width, height
        self.mirror = False  # set by the client; read by the publishing task for every frame
        self._on_remote = on_remote
        self._on_lost = on_lost
        self._on_state = on_state  # "reconnecting" / "reconnected": the room's own recovery
        self._room: Any = None
        self._source: Any = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._remote: list[RemoteVideo] = []
        self._closing = False

    async def join(self, url: str, token: str, timeout: float) -> None:
        from livekit import rtc

        loop = asyncio.get_running_loop()
        room = self._room = rtc.Room(loop=loop)
        room.on("track_subscribed", self._track_subscribed)
        room.on("track_unsubscribed", self._track_unsubscribed)
        room.on("disconnected", self._disconnected)
        room.on("reconnecting", self._reconnecting)
        room.on("reconnected", self._reconnected)
        # No ICE servers of ours: the service gives the room's in its join response.
        options = rtc.RoomOptions(auto_subscribe=True, connect_timeout=timeout)
        await asyncio.wait_for(room.connect(url, token, options), timeout)
        # A participant already in the room when we joined is listed, not announced.
        for participant in room.remote_participants.values():
            for publication in participant.track_publications.values():
                if publication.track is not None:
                    self._track_subscribed(publication.track, publication, participant)
        if self.local_track is not None:
            self._source = rtc.VideoSource(self.width, self.height)
            track = rtc.LocalVideoTrack.create_video_track("camera", self._source)
            publish = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_CAMERA)
            await asyncio.wait_for(room.local_participant.publish_track(track, publish), timeout)
            self._spawn(self._publish(self._source))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _publish(self, source: Any) -> None:
        """Every local frame into the room, flipped while mirrored, stamped with its capture time."""
        from livekit import rtc

        assert self.local_track is not None
        width, height = self.width, self.height
        loop = asyncio.get_running_loop()
        while not self._closing:
            try:
                frame = await self.local_track.recv()
            except MediaStreamError:
                return
            data = i420(frame, width, height, self.mirror)
            source.capture_frame(
                rtc.VideoFrame(width, height, rtc.VideoBufferType.I420, data),
                timestamp_us=int(loop.time() * 1e6),
            )

    def _track_subscribed(self, track: Any, publication: Any, participant: Any) -> None:
        from livekit import rtc

        if self._closing or not participant.identity.startswith(INFERENCE_PREFIX):
            return
        if track.kind != rtc.TrackKind.KIND_VIDEO or any(r.sid == track.sid for r in self._remote):
            return
        stream = rtc.VideoStream(track, loop=asyncio.get_running_loop(), format=rtc.VideoBufferType.I420, capacity=4)
        remote = RemoteVideo(stream)
        remote.sid = track.sid
        self._remote.append(remote)
        log.debug("subscribed to %s's video %s", participant.identity, track.sid)
        self._on_remote(remote)

    def _track_unsubscribed(self, track: Any, publication: Any, participant: Any) -> None:
        for remote in [r for r in self._remote if r.sid == track.sid]:
            self._remote.remove(remote)
            self._spawn(remote.close())  # its pump ends, and with it the user's track

    def _reconnecting(self) -> None:
        log.warning("LiveKit connection interrupted; the room reconnects")
        self._on_state("reconnecting")

    def _reconnected(self) -> None:
        log.info("LiveKit connection back")
        self._on_state("reconnected")

    def _disconnected(self, reason: Any = None) -> None:
        if not self._closing:
            self._on_lost(f"LiveKit room disconnected ({reason})")

    async def close(self) -> None:
        self._closing = True
        for remote in self._remote:
            try:
                await remote.close()
            except Exception:  # noqa: BLE001 - the room is going anyway
                log.debug("closing a remote stream failed", exc_info=True)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._room is not None:
            room, self._room = self._room, None
            try:
                await asyncio.wait_for(room.disconnect(), 2.0)
            except Exception:  # noqa: BLE001 - a room that never connected has nothing to close
                log.debug("leaving the room failed", exc_info=True)
        if self._source is not None:
            source, self._source = self._source, None
            await source.aclose()

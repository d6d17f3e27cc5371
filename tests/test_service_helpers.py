"""A raw client for the service tests: aiohttp for signaling, aiortc for media, nothing else.

It deliberately does not use decart_flow.realtime, so these tests pin the service to
PROTOCOL.md on their own.
"""

from __future__ import annotations

import asyncio
import json
import time
from fractions import Fraction
from typing import Any

import aiohttp
import av
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from decart_flow.service import read_stamp
from decart_flow.realtime.loopback import loopback_candidates


class PatternTrack(MediaStreamTrack):
    """A moving 1280x704 test pattern at 25 fps: bars that slide, so frames differ."""

    kind = "video"

    def __init__(self, width: int = 1280, height: int = 704, fps: int = 25) -> None:
        super().__init__()
        self.width, self.height, self.fps = width, height, fps
        xs = np.arange(width)[None, :]
        ys = np.arange(height)[:, None]
        self._y = ((xs // 40 + ys // 40) % 2 * 120 + 60).astype(np.uint8)
        self._u = np.tile(np.linspace(60, 200, width // 2).astype(np.uint8), (height // 2, 1))
        self._v = np.tile(np.linspace(200, 60, height // 2).astype(np.uint8)[:, None], (1, width // 2))
        self._start: float | None = None
        self._n = 0
        # Fifty positions of the sliding pattern, built once: the client must stay cheap so
        # that benchmarks measure the service.
        self._buffers = [self._build(n) for n in range(50)]

    def _build(self, n: int) -> np.ndarray:
        y = np.roll(self._y, (n * 8) % self.width, axis=1)
        return np.concatenate([y.reshape(-1), self._u.reshape(-1), self._v.reshape(-1)]).reshape(self.height * 3 // 2, self.width)

    async def recv(self) -> av.VideoFrame:
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._n / self.fps
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        frame = av.VideoFrame.from_ndarray(self._buffers[self._n % len(self._buffers)], format="yuv420p")
        frame.pts = self._n * 90000 // self.fps
        frame.time_base = Fraction(1, 90000)
        self._n += 1
        return frame


class ToneTrack(MediaStreamTrack):
    """48 kHz mono s16 in 20 ms frames, as the Python SDK sends: silence, or a tone while `loud`."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self.loud = False
        self._n = 0
        self._start: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self._start is None:
            self._start = time.monotonic()
        await asyncio.sleep(max(0.0, self._start + self._n * 0.02 - time.monotonic()))
        t = (np.arange(960) + self._n * 960) / 48000
        samples = (np.sin(2 * np.pi * 220 * t) * 20000).astype(np.int16) if self.loud else np.zeros(960, np.int16)
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = 48000
        frame.pts = self._n * 960
        frame.time_base = Fraction(1, 48000)
        self._n += 1
        return frame


class RawClient:
    """One connection to the service; collects every message and every received frame."""

    def __init__(self, base_url: str, model: str = "mirage", api_key: str = "test-key", path: str = "/v1/stream") -> None:
        ws_base = base_url.replace("http://", "ws://")
        self.url = f"{ws_base}{path}?api_key={api_key}&model={model}&user_agent=tests"
        self.messages: list[dict] = []
        self._arrived = asyncio.Condition()
        self.frames: list[tuple[float, int | None, np.ndarray]] = []  # (arrival, stamp, luma)
        self.thumbs: dict[int, np.ndarray] = {}  # stamp -> 160x88 RGB of its first frame
        self.keep_frames = True
        self.pc: RTCPeerConnection | None = None
        self.video = PatternTrack()
        self.audio = ToneTrack()
        self._tasks: list[asyncio.Task[Any]] = []

    async def open(self) -> None:
        self._session = aiohttp.ClientSession()
        self.ws = await self._session.ws_connect(self.url, max_msg_size=0)
        self._tasks.append(asyncio.create_task(self._read_ws()))

    async def _read_ws(self) -> None:
        async for msg in self.ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                async with self._arrived:
                    self.messages.append(json.loads(msg.data))
                    self._arrived.notify_all()
        async with self._arrived:
            self.messages.append({"type": "_closed"})
            self._arrived.notify_all()

    async def send(self, message: dict) -> None:
        await self.ws.send_str(json.dumps(message))

    async def wait_for(self, kind: str, timeout: float = 10.0, after: int = 0, **match: Any) -> dict:
        """The first message of this type (and field values) at index >= after."""

        def found() -> dict | None:
            for m in self.messages[after:]:
                if m.get("type") == kind and all(m.get(k) == v for k, v in match.items()):
                    return m
            return None

        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(lambda: found() is not None), timeout)
        result = found()
        assert result is not None
        return result

    async def negotiate(self, avatar: bool = False, trickle: bool = False, h264_first: bool = False) -> None:
        """Offer and apply the answer: video sendrecv, or avatar video recvonly + audio sendrecv."""
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc = pc

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "video":
                self._tasks.append(asyncio.create_task(self._read_frames(track)))

        if avatar:
            pc.addTransceiver("video", direction="recvonly")
            pc.addTransceiver(self.audio, direction="sendrecv")
        else:
            pc.addTrack(self.video)
        if h264_first:
            from aiortc.rtcrtpsender import RTCRtpSender

            codecs = RTCRtpSender.getCapabilities("video").codecs
            ordered = [c for c in codecs if c.mimeType == "video/H264"] + [c for c in codecs if c.mimeType != "video/H264"]
            for transceiver in pc.getTransceivers():
                if transceiver.kind == "video":
                    transceiver.setCodecPreferences(ordered)
        with loopback_candidates():
            await pc.setLocalDescription(await pc.createOffer())
        sdp = pc.localDescription.sdp
        if trickle:
            # Browser-style: candidates go separately, the offer itself carries none.
            lines = sdp.splitlines()
            candidates = [line for line in lines if line.startswith("a=candidate:")]
            sdp = "\r\n".join(line for line in lines if not line.startswith("a=candidate:") and line != "a=end-of-candidates") + "\r\n"
            await self.send({"type": "offer", "sdp": sdp})
            for line in candidates:
                await self.send({"type": "ice-candidate", "candidate": {"candidate": line[2:], "sdpMid": "0", "sdpMLineIndex": 0}})
            await self.send({"type": "ice-candidate", "candidate": None})
        else:
            await self.send({"type": "offer", "sdp": sdp})
        answer = await self.wait_for("answer")
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))

    async def _read_frames(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                if self.keep_frames:
                    luma = frame.to_ndarray(format="gray")
                    stamp = read_stamp(luma)
                    self.frames.append((time.monotonic(), stamp, luma))
                    if stamp is not None and stamp not in self.thumbs:
                        self.thumbs[stamp] = frame.reformat(width=160, height=88, format="rgb24").to_ndarray()
                else:
                    self.frames.append((time.monotonic(), read_stamp(frame), np.empty(0)))
        except MediaStreamError:
            pass

    async def frame_with_stamp(self, stamp: int, timeout: float = 10.0) -> np.ndarray:
        """The luma of the first received frame carrying this stamp (waiting for it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for _, s, luma in self.frames:
                if s == stamp:
                    return luma
            await asyncio.sleep(0.05)
        raise AssertionError(f"no frame with stamp {stamp}; saw {sorted({s for _, s, _ in self.frames}, key=str)}")

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self.pc is not None:
            await self.pc.close()
        if not self.ws.closed:
            await self.ws.close()
        await self._session.close()

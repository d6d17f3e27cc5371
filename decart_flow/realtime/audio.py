"""The live_avatar audio track: silence while idle, a clip while `play_audio` runs.

The service always receives audio (PROTOCOL.md, "Live avatar audio"): 48 kHz mono s16 in 20 ms
frames, paced by the media loop's clock. A clip is decoded and resampled with PyAV in a short-lived
thread, so neither the caller's loop nor the media loop stalls on a long file.
"""

from __future__ import annotations

import asyncio
import fractions
import io
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, Callable

import av
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from decart_flow.realtime.errors import InvalidInputError
from decart_flow.realtime.session import AudioInput

SAMPLE_RATE = 48_000
SAMPLES_PER_FRAME = 960  # 20 ms
FRAME_BYTES = SAMPLES_PER_FRAME * 2
TIME_BASE = fractions.Fraction(1, SAMPLE_RATE)


def decode_clip(audio: AudioInput) -> list[bytes]:
    """A clip (path or bytes, any format ffmpeg reads) as 20 ms chunks of 48 kHz mono s16 PCM."""
    if isinstance(audio, (bytes, bytearray)):
        source: Any = io.BytesIO(bytes(audio))
        label = f"<{len(audio)} bytes>"
    elif isinstance(audio, (str, Path)):
        if not Path(audio).is_file():
            raise InvalidInputError(f"audio file not found: {audio}")
        source, label = str(audio), str(audio)
    else:
        raise InvalidInputError(f"audio must be a path or bytes, got {type(audio).__name__}")
    pcm = bytearray()
    try:
        with av.open(source) as container:
            if not container.streams.audio:
                raise InvalidInputError(f"no audio stream in {label}")
            resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            for frame in container.decode(audio=0):
                for out in resampler.resample(frame):
                    pcm += bytes(out.planes[0])[: out.samples * 2]
            for out in resampler.resample(None):
                pcm += bytes(out.planes[0])[: out.samples * 2]
    except InvalidInputError:
        raise
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise InvalidInputError(f"cannot decode audio {label}: {exc}") from None
    if len(pcm) % FRAME_BYTES:
        pcm += bytes(FRAME_BYTES - len(pcm) % FRAME_BYTES)
    return [bytes(pcm[i : i + FRAME_BYTES]) for i in range(0, len(pcm), FRAME_BYTES)]


async def decode_clip_async(audio: AudioInput) -> list[bytes]:
    """`decode_clip` in a thread of its own that is joined before returning (nothing lingers)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[list[bytes]] = loop.create_future()

    def work() -> None:
        try:
            result = decode_clip(audio)
        except BaseException as exc:  # handed to the awaiting caller
            loop.call_soon_threadsafe(_settle, future, None, exc)
        else:
            loop.call_soon_threadsafe(_settle, future, result, None)

    thread = threading.Thread(target=work, name="decart-audio-decode", daemon=True)
    thread.start()
    try:
        return await future
    finally:
        thread.join()


def _settle(future: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)


class AvatarAudioTrack(MediaStreamTrack):
    """Sends a 20 ms frame every 20 ms: the current clip's next chunk, or silence."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._chunks: deque[bytes] = deque()
        self._on_done: Callable[[], None] | None = None
        self._pts = 0
        self._start: float | None = None
        self.frames_sent = 0
        self.clip_frames_sent = 0

    def play(self, chunks: list[bytes], on_done: Callable[[], None]) -> None:
        """Replace whatever plays with `chunks`; `on_done` runs (media thread) after the last one."""
        with self._lock:
            replaced = self._on_done
            self._chunks = deque(chunks)
            self._on_done = on_done if chunks else None
        if replaced is not None:
            replaced()
        if not chunks:
            on_done()

    def clear(self) -> None:
        self.play([], lambda: None)

    @property
    def playing(self) -> bool:
        return bool(self._chunks)

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = now
        delay = self._start + self._pts / SAMPLE_RATE - now
        if delay > 0:
            await asyncio.sleep(delay)
        done: Callable[[], None] | None = None
        with self._lock:
            chunk = self._chunks.popleft() if self._chunks else None
            if chunk is not None and not self._chunks:
                done, self._on_done = self._on_done, None
        frame = av.AudioFrame(format="s16", layout="mono", samples=SAMPLES_PER_FRAME)
        frame.planes[0].update(chunk if chunk is not None else bytes(FRAME_BYTES))
        frame.sample_rate = SAMPLE_RATE
        frame.time_base = TIME_BASE
        frame.pts = self._pts
        self._pts += SAMPLES_PER_FRAME
        self.frames_sent += 1
        if chunk is not None:
            self.clip_frames_sent += 1
        if done is not None:
            done()
        return frame

    def stop(self) -> None:
        self.clear()
        super().stop()

"""Where the picture comes from: `testsrc`, `file:PATH`, `image:PATH`, `camera[:DEVICE]`.

Every source is a `PacedSource` at the model's size and fps. Sources that decode (files, cameras)
do it on a worker thread and leave the newest frame for `make_frame`, so the media loop never
waits on a decoder.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import av

from decart_flow.media.errors import SourceError
from decart_flow.media.testsrc import TestSource
from decart_flow.media.track import PacedSource
from decart_flow.media.yuv import blank, letterbox, to_frame

log = logging.getLogger(__name__)

FORMS = "testsrc, camera, camera:/dev/videoN, file:PATH or image:PATH"


def open_source(spec: str, width: int, height: int, fps: float) -> PacedSource:
    """The source a show or `--source` names; a `SourceError` says what is wrong and how to fix it."""
    if width <= 0 or height <= 0 or width % 2 or height % 2 or fps <= 0:
        raise SourceError(f"source {spec!r}: {width}x{height} at {fps} fps cannot be made; "
                          "sizes must be even and positive, fps positive")
    kind, _, arg = spec.partition(":")
    if kind == "camera" and arg.isdigit():
        arg = f"/dev/video{arg}"  # camera:1 is /dev/video1
    if spec == "testsrc":
        return TestSource(width, height, fps)
    if kind == "file" and arg:
        return FileSource(arg, width, height, fps)
    if kind == "image" and arg:
        return ImageSource(arg, width, height, fps)
    if kind == "camera":
        return CameraSource(arg or "/dev/video0", width, height, fps)
    raise SourceError(f"source {spec!r}: use {FORMS}")


class ImageSource(PacedSource):
    """A still picture, letterboxed to the model's size, sent at the model's fps."""

    def __init__(self, path: str, width: int, height: int, fps: float) -> None:
        super().__init__(width, height, fps)
        try:
            with av.open(path) as container:
                still = next(container.decode(video=0))
        except (OSError, av.FFmpegError, StopIteration) as exc:
            raise SourceError(f"image source {path}: cannot read it ({_why(exc)}); use a PNG or JPEG") from None
        self._array = letterbox(still, width, height)

    def make_frame(self, index: int) -> av.VideoFrame:
        return to_frame(self._array, self.width, self.height)


class _DecodedSource(PacedSource):
    """A source fed by a decoder thread; `make_frame` takes the newest decoded picture."""

    def __init__(self, width: int, height: int, fps: float) -> None:
        super().__init__(width, height, fps)
        self._latest = blank(width, height)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: str | None = None

    def _start(self, name: str) -> None:
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.decode()
        except Exception as exc:  # noqa: BLE001 - the stream goes on with the last picture
            self.error = _why(exc)
            log.error("%s stopped: %s", type(self).__name__, self.error)

    def decode(self) -> None:
        raise NotImplementedError

    def _offer(self, frame: av.VideoFrame) -> None:
        self._latest = letterbox(frame, self.width, self.height)

    def make_frame(self, index: int) -> av.VideoFrame:
        return to_frame(self._latest, self.width, self.height)

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)


class FileSource(_DecodedSource):
    """A video file, looped forever, played at its own speed and resampled to the model's fps."""

    def __init__(self, path: str, width: int, height: int, fps: float) -> None:
        super().__init__(width, height, fps)
        self.path = path
        try:
            with av.open(path) as container:
                if not container.streams.video:
                    raise SourceError(f"file source {path}: it has no video stream; use a video file")
                self._offer(next(container.decode(video=0)))
        except (OSError, av.FFmpegError, StopIteration) as exc:
            raise SourceError(f"file source {path}: cannot read it ({_why(exc)}); use a video that ffmpeg plays") from None
        self._start("decart-file-source")

    def decode(self) -> None:
        while not self._stop.is_set():
            with av.open(self.path) as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                step = 1 / float(stream.average_rate or self.fps)
                t0 = time.monotonic()
                first: float | None = None  # a file's clock need not start at 0
                end = 0.0
                for frame in container.decode(stream):
                    if self._stop.is_set():
                        return
                    if frame.time is not None:  # play at the file's own speed
                        first = frame.time if first is None else first
                        end = frame.time - first
                        ahead = t0 + end - time.monotonic()
                        if ahead > 0:
                            self._stop.wait(ahead)
                    self._offer(frame)
            # Show the last frame for its own duration before looping: a one-frame clip would
            # otherwise be reopened as fast as the disk allows.
            self._stop.wait(max(0.0, t0 + end + step - time.monotonic()))


class CameraSource(_DecodedSource):
    """A V4L2 camera through PyAV."""

    def __init__(self, device: str, width: int, height: int, fps: float) -> None:
        super().__init__(width, height, fps)
        if not Path(device).exists():
            raise SourceError(f"no camera at {device}: plug one in, name another with camera:/dev/videoN, "
                              "or use --source testsrc")
        try:
            self._container = av.open(device, format="v4l2", options={"framerate": str(int(fps))})
        except (OSError, av.FFmpegError) as exc:
            raise SourceError(f"camera {device}: cannot open it ({_why(exc)}); is another program using it?") from None
        self._start("decart-camera-source")

    def decode(self) -> None:
        try:
            for frame in self._container.decode(video=0):
                if self._stop.is_set():
                    return
                self._offer(frame)
        finally:
            self._container.close()


def _why(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]


__all__ = ["CameraSource", "FileSource", "ImageSource", "SourceError", "TestSource", "open_source"]

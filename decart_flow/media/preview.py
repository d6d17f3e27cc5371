"""A small, recent copy of the output for the TUI and the remote page.

The media thread only keeps a reference to every n-th frame; the downscale happens when someone
asks for the picture (a few times a second), on the asker's thread, from that frame alone.
"""

from __future__ import annotations

import threading
import time

import av
import numpy as np


class Preview:
    def __init__(self, width: int = 80, height: int = 45, fps: float = 5.0) -> None:
        self.width = width
        self.height = height
        self.interval = 1.0 / fps
        self._frame: av.VideoFrame | None = None
        self._taken = 0.0
        self._cache: tuple[av.VideoFrame, np.ndarray] | None = None
        self._lock = threading.Lock()

    def __call__(self, frame: av.VideoFrame) -> None:
        now = time.monotonic()
        if now - self._taken >= self.interval:
            self._taken = now
            self._frame = frame

    def latest(self) -> np.ndarray | None:
        """The newest kept frame as an RGB array of (height, width, 3), or None before the first."""
        frame = self._frame
        if frame is None:
            return None
        with self._lock:
            if self._cache is not None and self._cache[0] is frame:
                return self._cache[1]
            small = frame.reformat(width=self.width, height=self.height, format="rgb24").to_ndarray()
            self._cache = (frame, small)
            return small

"""One session's picture: its state (look, mirror, caption, stamp counter) and the frame recipe.

The signaling side changes the state between frames; the output track calls `render` at the
model's rate. Order per frame: source -> look -> mirror -> caption -> stamp, so the caption
and the stamp are never flipped or restyled.
"""

from __future__ import annotations

import functools
import threading

import av
import numpy as np

from decart_flow.service.avatar import open_mouth, placeholder
from decart_flow.service.looks import PASSTHROUGH, ChromaStats, Look, Styler, look_for
from decart_flow.realtime.models import ModelDefinition
from decart_flow.service.pictures import CAPTION_HEIGHT, Planes, caption_band
from decart_flow.service.stamp import write_stamp


class Renderer:
    """State of one session plus the per-frame recipe. Thread-safe: rendering runs off-loop."""

    def __init__(self, model: ModelDefinition) -> None:
        self.model = model
        self._lock = threading.Lock()
        self.counter = 0
        self.mirror = False
        self._prompt: str | None = None
        self._enhance = False
        self._reference: ChromaStats | None = None
        self._portrait: Planes | None = None
        self._styler = Styler(PASSTHROUGH)
        self._caption: np.ndarray | None = None
        self._waiting = _still(model.width, model.height, model.is_avatar)

    # -- state changes: each accepted message is one step of the counter ---------------------

    def set_prompt(self, prompt: str, enhance: bool) -> None:
        with self._lock:
            self._prompt, self._enhance = prompt, enhance
            self._restyle()

    def set_image(self, reference: ChromaStats | None, portrait: Planes | None, prompt: str | None, enhance: bool) -> None:
        """A set_image: image and prompt together; both None means passthrough."""
        with self._lock:
            if self.model.is_avatar:
                if portrait is not None:
                    self._portrait = portrait
                self._reference = None
            else:
                self._reference = reference
            self._prompt, self._enhance = prompt, enhance
            self._restyle()

    def set_mirror(self, enabled: bool) -> None:
        with self._lock:
            self.mirror = enabled
            self.counter += 1

    def _restyle(self) -> None:
        look: Look = look_for(self._prompt, self._enhance, self._reference)
        self._styler = Styler(look)
        self._caption = caption_band(self._prompt, self.model.width) if self._prompt else None
        self.counter += 1

    @property
    def prompt(self) -> str | None:
        return self._prompt

    # -- frames ------------------------------------------------------------------------------

    def render(self, source: av.VideoFrame | None, level: float = 0.0) -> av.VideoFrame:
        m = self.model
        with self._lock:
            styler, caption, mirror, counter = self._styler, self._caption, self.mirror, self.counter
            portrait = self._portrait
        buf, planes = self._base(source, portrait, level)
        styler.apply(planes.y, planes.u, planes.v)
        if mirror:
            for plane in (planes.y, planes.u, planes.v):
                plane[...] = plane[:, ::-1]
        if caption is not None:
            planes.y[-CAPTION_HEIGHT:] = caption
            planes.u[-CAPTION_HEIGHT // 2 :] = 128
            planes.v[-CAPTION_HEIGHT // 2 :] = 128
        write_stamp(planes.y, counter, planes.u, planes.v)
        frame = av.VideoFrame.from_ndarray(buf, format="yuv420p")
        assert frame.width == m.width and frame.height == m.height
        return frame

    def _base(self, source: av.VideoFrame | None, portrait: Planes | None, level: float) -> tuple[np.ndarray, Planes]:
        """A fresh yuv420p buffer at the model's size holding the picture to restyle."""
        m = self.model
        if m.is_avatar or source is None:
            still = portrait if (m.is_avatar and portrait is not None) else self._waiting
            buf = np.empty((m.height * 3 // 2, m.width), np.uint8)
            planes = _views(buf, m.width, m.height)
            planes.y[...] = still.y
            planes.u[...] = still.u
            planes.v[...] = still.v
            if m.is_avatar:
                open_mouth(planes, level)
            return buf, planes
        if source.width != m.width or source.height != m.height or source.format.name != "yuv420p":
            source = source.reformat(width=m.width, height=m.height, format="yuv420p")
        buf = source.to_ndarray()
        return buf, _views(buf, m.width, m.height)


def _views(buf: np.ndarray, width: int, height: int) -> Planes:
    y = buf[:height]
    u = buf[height : height + height // 4].reshape(height // 2, width // 2)
    v = buf[height + height // 4 :].reshape(height // 2, width // 2)
    return Planes(y, u, v)


@functools.lru_cache(maxsize=8)
def _still(width: int, height: int, avatar: bool) -> Planes:
    """The picture before any input, one per size and shared by every session: each session
    building its own cost 1.4 MB per connection, most of what an idle connection held."""
    planes = placeholder(width, height) if avatar else _waiting(width, height)
    for plane in (planes.y, planes.u, planes.v):
        plane.setflags(write=False)  # shared: copied from, never written
    return planes


def _waiting(width: int, height: int) -> Planes:
    """What a video model shows until the client's first frame arrives: a dim gradient."""
    y = np.tile(np.linspace(30, 90, width, dtype=np.float32).astype(np.uint8), (height, 1))
    u = np.full((height // 2, width // 2), 128, np.uint8)
    v = np.full((height // 2, width // 2), 128, np.uint8)
    return Planes(y, u, v)

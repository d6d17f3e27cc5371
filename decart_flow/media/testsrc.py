"""`testsrc`: colour bars that scroll, a bouncing box and a frame counter, made cheaply.

Everything is drawn once at start in YUV 4:2:0, twice as wide as the frame; a frame is then a
shifted slice of that strip copied straight into the frame's planes, plus a box and a few digit
glyphs. At 1280x704 this costs well under a millisecond per frame.
"""

from __future__ import annotations

import av
import numpy as np

from decart_flow.media.track import PacedSource
from decart_flow.media.yuv import BLACK_Y, GREY_UV, frame_planes

SCROLL = 4  # pixels per frame; even, so the half-width chroma planes shift by whole samples
BARS_RGB = (
    (235, 235, 235),
    (235, 235, 16),
    (16, 235, 235),
    (16, 235, 16),
    (235, 16, 235),
    (235, 16, 16),
    (16, 16, 235),
    (16, 16, 16),
)
# A 3x5 pixel font for the counter's digits, one string of 15 bits per digit, row by row.
DIGITS = (
    "111101101101111",
    "010110010010111",
    "111001111100111",
    "111001111001111",
    "101101111001001",
    "111100111001111",
    "111100111101111",
    "111001001001001",
    "111101111101111",
    "111101111001111",
)
COUNTER_DIGITS = 6
WHITE_Y = 235


def _background(width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bars over the top two thirds, a grey ramp below; YUV planes tiled to twice the width.

    One row of each is drawn and copied down whole rows: filling the picture bar by bar with a
    3-byte colour took 13-25 ms of `run`'s start-up, this takes ~3 ms for the same pixels.
    """
    bars = np.empty((width, 3), np.uint8)
    bar_w = width / len(BARS_RGB)
    for i, colour in enumerate(BARS_RGB):
        bars[int(i * bar_w) : int((i + 1) * bar_w)] = colour
    ramp = np.linspace(16, 235, width, dtype=np.float32).astype(np.uint8)
    split = height * 2 // 3
    rgb = np.empty((height, width, 3), np.uint8)
    rgb[:split] = bars
    rgb[split:] = ramp[:, None]
    yuv = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
    return tuple(np.tile(np.array(p), (1, 2)) for p in frame_planes(yuv))  # type: ignore[return-value]


def _glyphs(scale: int) -> list[np.ndarray]:
    """Luma images of 0-9, white on black, `scale` pixels per font pixel."""
    out = []
    for bits in DIGITS:
        cells = np.array([int(b) for b in bits], np.uint8).reshape(5, 3)
        img = np.where(cells == 1, WHITE_Y, BLACK_Y).astype(np.uint8)
        out.append(np.kron(img, np.ones((scale, scale), np.uint8)))
    return out


class TestSource(PacedSource):
    """A moving test pattern at the model's size and fps; frame n shows the number n."""

    __test__ = False  # not a pytest class, whatever its name

    def __init__(self, width: int, height: int, fps: float) -> None:
        super().__init__(width, height, fps)
        self._y, self._u, self._v = _background(width, height)
        scale = max(2, height // 88) // 2 * 2
        self._glyphs = _glyphs(scale)
        self._glyph_w = 3 * scale
        self._glyph_h = 5 * scale
        self._gap = scale
        self._box = max(16, height // 10) // 2 * 2

    def make_frame(self, index: int) -> av.VideoFrame:
        w, h = self.width, self.height
        frame = av.VideoFrame(w, h, "yuv420p")
        y, u, v = frame_planes(frame)
        off = (index * SCROLL) % w
        y[:] = self._y[:, off : off + w]
        u[:] = self._u[:, off // 2 : off // 2 + w // 2]
        v[:] = self._v[:, off // 2 : off // 2 + w // 2]
        self._draw_box(index, y, u, v)
        self._draw_counter(index, y, u, v)
        return frame

    def _draw_box(self, index: int, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> None:
        """A white square bouncing across the frame: motion that is not a plain scroll."""
        b = self._box
        bx, by = _bounce(index * 6, self.width - b), _bounce(index * 4, self.height - b)
        y[by : by + b, bx : bx + b] = WHITE_Y
        u[by // 2 : (by + b) // 2, bx // 2 : (bx + b) // 2] = GREY_UV
        v[by // 2 : (by + b) // 2, bx // 2 : (bx + b) // 2] = GREY_UV

    def _draw_counter(self, index: int, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> None:
        """The frame number at the bottom left, on a black plate."""
        gw, gh, gap = self._glyph_w, self._glyph_h, self._gap
        text = str(index % 10**COUNTER_DIGITS).rjust(COUNTER_DIGITS, "0")
        x0, y0 = gap * 2, self.height - gh - gap * 4
        plate_w = COUNTER_DIGITS * (gw + gap) + gap * 2
        plate_h = gh + gap * 2
        top, left = y0 - gap, x0 - gap
        y[top : top + plate_h, left : left + plate_w] = BLACK_Y
        u[top // 2 : (top + plate_h) // 2, left // 2 : (left + plate_w) // 2] = GREY_UV
        v[top // 2 : (top + plate_h) // 2, left // 2 : (left + plate_w) // 2] = GREY_UV
        for i, ch in enumerate(text):
            x = x0 + i * (gw + gap)
            y[y0 : y0 + gh, x : x + gw] = self._glyphs[int(ch)]


def _bounce(pos: int, span: int) -> int:
    """A triangle wave over [0, span], rounded down to even so chroma stays aligned."""
    if span <= 0:
        return 0
    p = pos % (2 * span)
    return (p if p <= span else 2 * span - p) // 2 * 2

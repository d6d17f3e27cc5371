"""The live output in the terminal: half-block pixels, two vertical pixels per cell.

The preview sink already shrank the frame off the hot path; this widget only scales that small
RGB array to its cell grid (nearest neighbour, keeping the aspect) and turns each cell into `▀`
with the top pixel as foreground and the bottom one as background. The strips are built once
per frame, not once per paint.
"""

from __future__ import annotations

import numpy as np
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.strip import Strip
from textual.widget import Widget

_HALF = "▀"


class PreviewView(Widget):
    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self._frame: np.ndarray | None = None
        self._strips: list[Strip] = []
        self._built_for: tuple[int, int] | None = None

    def show_frame(self, frame: np.ndarray | None) -> None:
        """A new small RGB frame (H x W x 3, uint8) to draw; None keeps the last one."""
        if frame is None or frame is self._frame:
            return
        self._frame = frame
        self._built_for = None
        self.refresh()

    def _build(self, size: Size) -> None:
        self._built_for = (size.width, size.height)
        self._strips = []
        frame = self._frame
        if frame is None or size.width < 1 or size.height < 1:
            return
        h, w = frame.shape[:2]
        cols, rows = size.width, size.height * 2
        scale = min(cols / w, rows / h)
        out_w, out_h = max(1, int(w * scale)), max(2, int(h * scale) // 2 * 2)
        ys = (np.arange(out_h) * h // out_h).clip(0, h - 1)
        xs = (np.arange(out_w) * w // out_w).clip(0, w - 1)
        small = np.ascontiguousarray(frame[ys][:, xs, :3]).astype(np.uint8)
        pad_left = (cols - out_w) // 2
        pad_top = (size.height - out_h // 2) // 2
        blank = Strip.blank(cols)
        self._strips = [blank] * pad_top
        cache: dict[tuple[int, ...], Style] = {}
        for y in range(0, out_h, 2):
            top, bottom = small[y].tolist(), small[y + 1].tolist()
            segments = [Segment(" " * pad_left)] if pad_left else []
            for (r1, g1, b1), (r2, g2, b2) in zip(top, bottom):
                key = (r1, g1, b1, r2, g2, b2)
                style = cache.get(key)
                if style is None:
                    style = Style(color=Color.from_rgb(r1, g1, b1), bgcolor=Color.from_rgb(r2, g2, b2))
                    cache[key] = style
                segments.append(Segment(_HALF, style))
            self._strips.append(Strip(segments, pad_left + out_w).extend_cell_length(cols))
        while len(self._strips) < size.height:
            self._strips.append(blank)

    def render_line(self, y: int) -> Strip:
        size = self.size
        if self._frame is None:
            if y == size.height // 2:
                text = "no picture yet"
                return Strip([Segment(text.center(size.width), Style(dim=True))], size.width)
            return Strip.blank(size.width)
        if self._built_for != (size.width, size.height):
            self._build(size)
        return self._strips[y] if 0 <= y < len(self._strips) else Strip.blank(size.width)

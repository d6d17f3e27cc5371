"""The live avatar: a still portrait whose mouth opens with the loudness of the received audio."""

from __future__ import annotations

import numpy as np

from decart_flow.service.pictures import Planes


class Loudness:
    """A smoothed loudness from 0 (silence) to 1, fed by every received audio frame."""

    def __init__(self) -> None:
        self.level = 0.0

    def feed(self, samples: np.ndarray) -> None:
        if samples.size == 0:
            return
        data = samples.astype(np.float32)
        if samples.dtype == np.int16:
            data /= 32768.0
        rms = float(np.sqrt(np.mean(data * data)))
        target = min(1.0, rms * 6.0)
        # Open fast, close a little slower: reads as speech rather than flicker.
        rate = 0.6 if target > self.level else 0.35
        self.level += (target - self.level) * rate
        if self.level < 0.01:
            self.level = 0.0


def placeholder(width: int, height: int) -> Planes:
    """What the avatar shows before any portrait arrived: a soft grey head-and-shoulders."""
    yy, xx = np.mgrid[0:height, 0:width]
    cx, cy = width / 2, height * 0.42
    head = ((xx - cx) / (height * 0.2)) ** 2 + ((yy - cy) / (height * 0.27)) ** 2 < 1
    body = ((xx - cx) / (height * 0.45)) ** 2 + ((yy - height) / (height * 0.3)) ** 2 < 1
    y = np.full((height, width), 40, np.uint8)
    y[head | body] = 150
    u = np.full((height // 2, width // 2), 128, np.uint8)
    v = np.full((height // 2, width // 2), 136, np.uint8)
    return Planes(y, u, v)


def open_mouth(planes: Planes, level: float) -> None:
    """Draw the open mouth into a copy of the portrait; a closed mouth draws nothing.

    The mouth sits where a centred portrait has it (half-way across, 62% down); that is a guess,
    not face detection, and it is enough for a show to see the avatar speak.
    """
    if level <= 0:
        return
    h, w = planes.y.shape
    cx, cy = w // 2, int(h * 0.62)
    half_w = max(8, w // 18)
    half_h = max(2, int(level * h * 0.06))
    x0, x1 = cx - half_w, cx + half_w
    y0, y1 = cy - half_h, cy + half_h
    yy, xx = np.ogrid[y0:y1, x0:x1]
    inside = ((xx - cx) / half_w) ** 2 + ((yy - cy) / half_h) ** 2 < 1
    region = planes.y[y0:y1, x0:x1]
    region[inside] = 24
    uy0, uy1, ux0, ux1 = y0 // 2, y1 // 2, x0 // 2, x1 // 2
    small = inside[::2, ::2][: uy1 - uy0, : ux1 - ux0]
    planes.u[uy0:uy1, ux0:ux1][small] = 120
    planes.v[uy0:uy1, ux0:ux1][small] = 150

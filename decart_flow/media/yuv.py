"""Planar YUV 4:2:0 frames as numpy arrays, the layout PyAV uses for `yuv420p`.

Sources build frames as one (H*3/2, W) uint8 array: the Y plane, then U and V packed row after
row. Working on that array directly (slices, rolls, pastes) is what keeps sources cheap.
"""

from __future__ import annotations

import av
import numpy as np

BLACK_Y = 16
GREY_UV = 128


def blank(width: int, height: int) -> np.ndarray:
    """A black yuv420p frame array."""
    arr = np.empty((height * 3 // 2, width), np.uint8)
    arr[:height] = BLACK_Y
    arr[height:] = GREY_UV
    return arr


def planes(arr: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views of Y (HxW), U and V (H/2 x W/2) inside a yuv420p frame array."""
    q = height // 4
    y = arr[:height]
    u = arr[height : height + q].reshape(height // 2, width // 2)
    v = arr[height + q : height + 2 * q].reshape(height // 2, width // 2)
    return y, u, v


def fit(src_w: int, src_h: int, dst_w: int, dst_h: int) -> tuple[int, int, int, int]:
    """(w, h, x, y) of the source scaled into the destination keeping its aspect, all even."""
    scale = min(dst_w / src_w, dst_h / src_h)
    w = min(dst_w, max(2, int(round(src_w * scale / 2)) * 2))
    h = min(dst_h, max(2, int(round(src_h * scale / 2)) * 2))
    x = (dst_w - w) // 2 // 2 * 2
    y = (dst_h - h) // 2 // 2 * 2
    return w, h, x, y


def letterbox(frame: av.VideoFrame, width: int, height: int) -> np.ndarray:
    """Scale a frame into width x height keeping its aspect, with black bars: a yuv420p array."""
    w, h, x, y = fit(frame.width, frame.height, width, height)
    scaled = frame.reformat(width=w, height=h, format="yuv420p").to_ndarray()
    if (w, h) == (width, height):
        return scaled
    out = blank(width, height)
    for src, dst, s in zip(planes(scaled, w, h), planes(out, width, height), (1, 2, 2)):
        dst[y // s : y // s + h // s, x // s : x // s + w // s] = src
    return out


def frame_planes(frame: av.VideoFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Writable views of a yuv420p frame's Y, U and V planes: fill a frame with no extra copy."""
    views = []
    for plane in frame.planes[:3]:
        raw = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
        views.append(raw[:, : plane.width])
    return views[0], views[1], views[2]


def to_frame(arr: np.ndarray, width: int, height: int) -> av.VideoFrame:
    """A new yuv420p VideoFrame holding a copy of a frame array."""
    frame = av.VideoFrame(width, height, "yuv420p")
    for src, dst in zip(planes(arr, width, height), frame_planes(frame)):
        dst[:] = src
    return frame

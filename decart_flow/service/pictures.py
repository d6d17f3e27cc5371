"""Pictures that arrive as base64 (reference images, portraits) and the caption band.

Everything here runs once per message, never per frame: the results are plain YUV planes that
the renderer copies or blends.
"""

from __future__ import annotations

import base64
import binascii
import io
from dataclasses import dataclass

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

MAX_IMAGE_BYTES = 20 * 1024 * 1024
CAPTION_HEIGHT = 48


class PictureError(ValueError):
    """The image data is not a picture we can use; the text goes back in the ack."""


@dataclass
class Planes:
    """A yuv420p picture as three numpy planes."""

    y: np.ndarray
    u: np.ndarray
    v: np.ndarray

    def copy(self) -> "Planes":
        return Planes(self.y.copy(), self.u.copy(), self.v.copy())


def decode_image(data: str) -> Image.Image:
    """A base64 (optionally a data: URL) image, decoded and checked."""
    if "," in data[:100] and data.startswith("data:"):
        data = data.split(",", 1)[1]
    if len(data) * 3 // 4 > MAX_IMAGE_BYTES:
        raise PictureError(f"image is larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MB")
    try:
        raw = base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError) as exc:
        raise PictureError(f"image_data is not base64: {exc}") from None
    try:
        image = Image.open(io.BytesIO(raw))
        image.load()
    except Exception as exc:  # Pillow raises many types for bad data
        raise PictureError(f"image_data is not a readable image: {type(exc).__name__}") from None
    return image.convert("RGB")


def to_planes(image: Image.Image, width: int, height: int) -> Planes:
    """The image fitted (letterboxed, aspect kept) into width x height, as yuv420p planes."""
    fitted = image.copy()
    fitted.thumbnail((width, height), Image.Resampling.BILINEAR)
    canvas = Image.new("RGB", (width, height), (0, 0, 0))
    canvas.paste(fitted, ((width - fitted.width) // 2, (height - fitted.height) // 2))
    return frame_planes(av.VideoFrame.from_image(canvas).reformat(format="yuv420p"))


def frame_planes(frame: av.VideoFrame) -> Planes:
    """Copies of a yuv420p frame's planes (strides removed)."""
    arr = frame.to_ndarray()
    h, w = frame.height, frame.width
    y = arr[:h]
    u = arr[h : h + h // 4].reshape(h // 2, w // 2)
    v = arr[h + h // 4 :].reshape(h // 2, w // 2)
    return Planes(y.copy(), u.copy(), v.copy())


def caption_band(text: str, width: int) -> np.ndarray:
    """A dark luma band with the prompt in white, cut with an ellipsis if it is too long."""
    band = Image.new("L", (width, CAPTION_HEIGHT), 16)
    draw = ImageDraw.Draw(band)
    font = ImageFont.load_default(size=28)
    line = " ".join(text.split())
    if draw.textlength(line, font=font) > width - 32:
        while line and draw.textlength(line + "...", font=font) > width - 32:
            line = line[:-1]
        line += "..."
    draw.text((16, 8), line, fill=235, font=font)
    return np.asarray(band, dtype=np.uint8).copy()

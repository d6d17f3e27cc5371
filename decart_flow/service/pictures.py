"""Pictures that arrive as base64 (reference images, portraits) and the caption band.

Everything here runs once per message, never per frame: the results are plain YUV planes that
the renderer copies or blends.
"""

from __future__ import annotations

import base64
import binascii
import functools
import io
import threading
import warnings
from dataclasses import dataclass

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

MAX_IMAGE_BYTES = 20 * 1024 * 1024
# Bytes do not bound the cost: a 530 KB PNG of 13000 x 13000 decodes to 1.4 GB. Pictures are
# scaled to the model's frame, so 4096 x 4096 (~50 MB decoded) is plenty; the client's bound
# (realtime/images.py) is the same, so a show that validated is never refused here.
MAX_IMAGE_PIXELS = 4096 * 4096
# catch_warnings swaps process-wide state: our image threads take turns at it.
_WARNINGS = threading.Lock()
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
        with _WARNINGS, warnings.catch_warnings():  # Pillow's bomb warning: our own bound below says it better
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(raw))  # reads the header only: the size, no pixels yet
    except Image.DecompressionBombError:  # over twice Pillow's limit: it will not even say the size
        raise PictureError(_too_many_pixels("over 178 megapixels")) from None
    except Exception as exc:  # Pillow raises many types for bad data
        raise PictureError(f"image_data is not a readable image: {type(exc).__name__}") from None
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        raise PictureError(_too_many_pixels(f"{width} x {height} pixels"))
    if width < 1 or height < 1:
        raise PictureError("image_data is an empty image (0 pixels)")
    try:
        image.load()
    except Exception as exc:  # Pillow raises many types for bad data
        raise PictureError(f"image_data is not a readable image: {type(exc).__name__}") from None
    return image.convert("RGB")


def _too_many_pixels(size: str) -> str:
    return (f"image is {size}, over the {MAX_IMAGE_PIXELS / 1e6:.1f} megapixel limit (4096 x 4096): "
            "scale it down and send it again")


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
    font = _caption_font()
    line = " ".join(text.split())
    room = width - 32
    # No printable ASCII glyph of this font is narrower than 5 px: a line longer than room // 4
    # characters cannot fit (or is mostly zero-width marks, and may as well be cut).
    most = room // 4
    if len(line) > most or draw.textlength(line, font=font) > room:
        # The longest prefix that fits with its ellipsis, found by bisection: cutting one
        # character at a time measured a 950-character prompt ~900 times (2 s of CPU on the
        # event loop, every other session stalled).
        fits, over = 0, min(len(line), most) + 1
        while over - fits > 1:
            mid = (fits + over) // 2
            if draw.textlength(line[:mid] + "...", font=font) <= room:
                fits = mid
            else:
                over = mid
        line = line[:fits] + "..."
    draw.text((16, 8), line, fill=235, font=font)
    return np.asarray(band, dtype=np.uint8).copy()


@functools.lru_cache(maxsize=1)
def _caption_font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=28)

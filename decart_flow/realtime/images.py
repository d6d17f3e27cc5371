"""Reference images as the wire wants them: base64 text, from bytes, a path, a data: or http(s) URL."""

from __future__ import annotations

import base64
from pathlib import Path

import aiohttp

from decart_flow.realtime.errors import InvalidInputError
from decart_flow.realtime.session import ImageInput

# The service refuses bigger images; checking here gives one clear error instead of a dropped socket.
MAX_IMAGE_BYTES = 20 * 1024 * 1024


def _encode(data: bytes, what: str) -> str:
    if len(data) > MAX_IMAGE_BYTES:
        raise InvalidInputError(
            f"{what} is {len(data) / 2**20:.1f} MB; the service takes images up to {MAX_IMAGE_BYTES // 2**20} MB"
        )
    return base64.b64encode(data).decode("ascii")


async def image_to_base64(image: ImageInput, http: aiohttp.ClientSession | None = None) -> str | None:
    """None stays None (passthrough); anything unreadable is an `InvalidInputError` naming it."""
    if image is None:
        return None
    if isinstance(image, (bytes, bytearray)):
        if not image:
            raise InvalidInputError("image is empty (0 bytes)")
        return _encode(bytes(image), "image")
    if isinstance(image, str) and image.startswith("data:"):
        head, sep, data = image.partition(",")
        if not sep or ";base64" not in head:
            raise InvalidInputError("a data: image URL must be base64 encoded")
        if len(data) * 3 // 4 > MAX_IMAGE_BYTES:
            raise InvalidInputError(f"the data: image is over {MAX_IMAGE_BYTES // 2**20} MB, the service's limit")
        return data
    if isinstance(image, str) and image.startswith(("http://", "https://")):
        return await _fetch(image, http)
    if isinstance(image, (str, Path)):
        path = Path(image)
        if not path.is_file():
            raise InvalidInputError(f"image file not found: {path}")
        size = path.stat().st_size
        if size > MAX_IMAGE_BYTES:  # refused before reading 50 MB into memory
            limit = MAX_IMAGE_BYTES // 2**20
            raise InvalidInputError(f"image {path} is {size / 2**20:.1f} MB; the service takes images up to {limit} MB")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InvalidInputError(f"cannot read image {path}: {exc.strerror or exc}") from None
        if not data:
            raise InvalidInputError(f"image file is empty: {path}")
        return _encode(data, f"image {path}")
    raise InvalidInputError(f"image must be bytes, a path, a URL or None, got {type(image).__name__}")


async def _fetch(url: str, http: aiohttp.ClientSession | None) -> str:
    own = http is None
    session = http or aiohttp.ClientSession()
    try:
        async with session.get(url) as response:
            if response.status != 200:
                raise InvalidInputError(f"image URL {url} answered HTTP {response.status}")
            return _encode(await response.read(), f"image {url}")
    except aiohttp.ClientError as exc:
        raise InvalidInputError(f"cannot fetch image {url}: {exc}") from None
    finally:
        if own:
            await session.close()

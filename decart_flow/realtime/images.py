"""Reference images as the wire wants them: base64 text, from bytes, a path, a data: or http(s) URL."""

from __future__ import annotations

import base64
from pathlib import Path

import aiohttp

from decart_flow.realtime.errors import InvalidInputError
from decart_flow.realtime.session import ImageInput


async def image_to_base64(image: ImageInput, http: aiohttp.ClientSession | None = None) -> str | None:
    """None stays None (passthrough); anything unreadable is an `InvalidInputError` naming it."""
    if image is None:
        return None
    if isinstance(image, (bytes, bytearray)):
        if not image:
            raise InvalidInputError("image is empty (0 bytes)")
        return base64.b64encode(bytes(image)).decode("ascii")
    if isinstance(image, str) and image.startswith("data:"):
        head, sep, data = image.partition(",")
        if not sep or ";base64" not in head:
            raise InvalidInputError("a data: image URL must be base64 encoded")
        return data
    if isinstance(image, str) and image.startswith(("http://", "https://")):
        return await _fetch(image, http)
    if isinstance(image, (str, Path)):
        path = Path(image)
        if not path.is_file():
            raise InvalidInputError(f"image file not found: {path}")
        data = path.read_bytes()
        if not data:
            raise InvalidInputError(f"image file is empty: {path}")
        return base64.b64encode(data).decode("ascii")
    raise InvalidInputError(f"image must be bytes, a path, a URL or None, got {type(image).__name__}")


async def _fetch(url: str, http: aiohttp.ClientSession | None) -> str:
    own = http is None
    session = http or aiohttp.ClientSession()
    try:
        async with session.get(url) as response:
            if response.status != 200:
                raise InvalidInputError(f"image URL {url} answered HTTP {response.status}")
            return base64.b64encode(await response.read()).decode("ascii")
    except aiohttp.ClientError as exc:
        raise InvalidInputError(f"cannot fetch image {url}: {exc}") from None
    finally:
        if own:
            await session.close()

"""Reference images as the wire wants them: base64 text, from bytes, a path, a data: or http(s) URL.

Bounded twice: in bytes (a big file) and in pixels (a small PNG of 13000 x 13000 costs 1.4 GB to
decode). An http(s) image is fetched and checked when the show loads (`fetch_checked`), like a
file, and what was fetched then is what is sent: a show that validated does not fail at its cue.
"""

from __future__ import annotations

import asyncio
import base64
import io
import threading
import urllib.error
import urllib.request
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

from decart_flow.realtime.errors import InvalidInputError
from decart_flow.realtime.session import ImageInput

if TYPE_CHECKING:
    import aiohttp

# The service refuses bigger images; checking here gives one clear error instead of a dropped socket.
MAX_IMAGE_BYTES = 20 * 1024 * 1024
# A reference image is scaled to the model's 1280 x 720; 4096 x 4096 is plenty and costs ~100 MB.
MAX_IMAGE_PIXELS = 4096 * 4096
FETCH_TIMEOUT_S = 15.0

_fetched: OrderedDict[str, bytes] = OrderedDict()  # url -> the bytes fetched and checked at load
_fetched_lock = threading.Lock()  # the TUI's chooser fetches on a worker thread
_KEEP_FETCHED = 32


def pixels_problem(data: bytes | Path | str) -> str | None:
    """The image's size in pixels against MAX_IMAGE_PIXELS, read from its header (nothing decoded).

    Pillow's own bomb guard only warns (on stderr, raw) up to 2x its 89 MP limit: ours is an error,
    and its warning is never printed.
    """
    from PIL import Image

    source = io.BytesIO(data) if isinstance(data, bytes) else data
    try:
        with warnings.catch_warnings(record=True):  # kept, not printed: the size says it better
            warnings.simplefilter("always", Image.DecompressionBombWarning)
            with Image.open(source) as img:
                width, height = img.size
    except Image.DecompressionBombError:  # over twice Pillow's own limit: it will not even say the size
        return f"the image is over {MAX_IMAGE_PIXELS / 1e6:.1f} megapixels (4096 x 4096): scale it down"
    except Exception as e:  # Pillow raises many kinds for broken files
        return f"cannot decode the image ({type(e).__name__}: {e})"
    if width * height > MAX_IMAGE_PIXELS:
        return (f"the image is {width} x {height} pixels, over {MAX_IMAGE_PIXELS / 1e6:.1f} megapixels "
                "(4096 x 4096): scale it down")
    if width < 1 or height < 1:
        return "the image is empty"
    return None


def decode_problem(data: bytes) -> str | None:
    """Whether `data` is an image we take: bounded in pixels, then decoded whole."""
    problem = pixels_problem(data)
    if problem:
        return problem
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                img.load()
    except Exception as e:  # noqa: BLE001
        return f"cannot decode the image ({type(e).__name__}: {e})"
    return None


def fetch_checked(url: str, timeout: float = FETCH_TIMEOUT_S) -> bytes:
    """Fetch an image URL now (blocking: at load), check it as a file is checked, keep it for sending.

    Raises InvalidInputError with one line that names the URL and what is wrong.
    """
    request = urllib.request.Request(url, headers={"User-Agent": "decart-flow"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - http(s) only
            data = response.read(MAX_IMAGE_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise InvalidInputError(f"answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise InvalidInputError(f"cannot fetch it ({reason})") from None
    if len(data) > MAX_IMAGE_BYTES:
        raise InvalidInputError(f"it is over {MAX_IMAGE_BYTES // 2**20} MB, the service's limit")
    if not data:
        raise InvalidInputError("it is empty (0 bytes)")
    problem = decode_problem(data)
    if problem:
        raise InvalidInputError(problem)
    remember(url, data)
    return data


def remember(url: str, data: bytes) -> None:
    with _fetched_lock:
        _fetched[url] = data
        _fetched.move_to_end(url)
        while len(_fetched) > _KEEP_FETCHED:
            _fetched.popitem(last=False)


def _recall(url: str) -> bytes | None:
    with _fetched_lock:
        return _fetched.get(url)


def _encode(data: bytes, what: str) -> str:
    if len(data) > MAX_IMAGE_BYTES:
        raise InvalidInputError(
            f"{what} is {len(data) / 2**20:.1f} MB; the service takes images up to {MAX_IMAGE_BYTES // 2**20} MB"
        )
    problem = pixels_problem(data)
    if problem:
        raise InvalidInputError(f"{what}: {problem}")
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
        try:
            decoded = base64.b64decode(data, validate=False)
        except ValueError:
            raise InvalidInputError("the data: image is not valid base64") from None
        problem = pixels_problem(decoded)
        if problem:
            raise InvalidInputError(f"the data: image: {problem}")
        return data
    if isinstance(image, str) and image.startswith(("http://", "https://")):
        known = _recall(image)
        if known is not None:  # fetched and checked when the show loaded
            return _encode(known, f"image {image}")
        # aiohttp's timeouts need a Task: the executor steps a call's first part outside of one.
        return await asyncio.ensure_future(_fetch(image, http))
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
    import aiohttp

    own = http is None
    session = http or aiohttp.ClientSession()
    try:
        async with session.get(url) as response:
            if response.status != 200:
                raise InvalidInputError(f"image URL {url} answered HTTP {response.status}")
            data = await response.content.read(MAX_IMAGE_BYTES + 1)
            encoded = _encode(data, f"image {url}")
            remember(url, data)
            return encoded
    except aiohttp.ClientError as exc:
        raise InvalidInputError(f"cannot fetch image {url}: {exc}") from None
    finally:
        if own:
            await session.close()

"""URLs of a session: building the WebSocket URL and keeping the key out of anything logged."""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit, urlunsplit

from .. import __version__
from .models import STREAM_PATHS

# The package's own version (importlib.metadata would cost 25-50 ms of every start)
USER_AGENT = f"decart-flow/{__version__} lang/py"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

_KEY_IN_QUERY = re.compile(r"(?i)(api_key=)[^&#\s]*")
# `scheme://user:secret@host`: everything before the host's `@` may be a key (`ws://u:KEY@host`).
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/?#\s]*@")


def redact_url(url: str) -> str:
    """The URL with every `api_key=` value and any userinfo replaced by `***`: the only form we log."""
    return _USERINFO.sub(r"\1***@", _KEY_IN_QUERY.sub(r"\1***", url))


def with_api_key(url: str, api_key: str) -> str:
    """A session URL with another key in its `api_key=` (a refreshed client token)."""
    return re.sub(r"([?&]api_key=)[^&#]*", lambda m: m.group(1) + quote(api_key, safe=""), url, count=1)


def to_ws(base_url: str) -> str:
    """http(s):// -> ws(s)://; ws(s):// stays; anything else is refused."""
    base = base_url.rstrip("/")
    for http, ws in (("https://", "wss://"), ("http://", "ws://")):
        if base.startswith(http):
            return ws + base[len(http) :]
    if base.startswith(("ws://", "wss://")):
        return base
    raise ValueError(f"base URL must start with http(s):// or ws(s)://, got {redact_url(base_url)!r}")


def to_http(base_url: str) -> str:
    """ws(s):// -> http(s)://, for the REST endpoints (tokens)."""
    base = base_url.rstrip("/")
    for ws, http in (("wss://", "https://"), ("ws://", "http://")):
        if base.startswith(ws):
            return http + base[len(ws) :]
    return base


def service_base(base_url: str) -> str:
    """The service's base URL: a trailing stream path, query or fragment dropped.

    A base URL given with a stream path (copied from a browser's network tab or an SDK's source)
    means the service at its root.
    """
    parts = urlsplit(base_url)
    path = parts.path.rstrip("/")
    for known in STREAM_PATHS:
        if path.endswith(known):
            path = path[: -len(known)]
            break
    return urlunsplit((parts.scheme, parts.netloc, path, "", "")).rstrip("/")


def stream_url(
    base_url: str,
    path: str,
    api_key: str,
    model: str,
    resolution: str | None = None,
    *,
    livekit: bool = False,
    speed: str | None = None,
) -> str:
    """The control channel's URL; `livekit` asks for today's protocol (room info early)."""
    url = f"{to_ws(service_base(base_url))}{path}?api_key={quote(api_key, safe='')}&model={quote(model, safe='')}"
    if livekit:
        url += "&livekit_early_room_info=true"
    if resolution is not None:
        url += f"&resolution={quote(resolution, safe='')}"
    if speed is not None:
        url += f"&speed={quote(speed, safe='')}"
    return url + f"&user_agent={quote(USER_AGENT, safe='')}"


def is_loopback(url: str) -> bool:
    """True when the service is on this machine: media must then stay on 127.0.0.1."""
    return (urlsplit(url).hostname or "") in LOOPBACK_HOSTS

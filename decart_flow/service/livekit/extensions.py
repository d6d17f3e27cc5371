"""RTP header extensions that LiveKit peer connections must negotiate, and aiortc leaves out.

A LiveKit client publishes its camera with simulcast, and libwebrtc refuses to even build that
offer ("negotiates simulcast but does not negotiate the RID RTP header extension") unless the
bundle's earlier answer accepted the RID extensions. aiortc parses both (rtp.py) but does not
list them among the extensions it answers. Inside `rid_extensions()` (a context variable, so it
follows our own tasks only) the video list has them too; the 2025 path's answers are untouched.
Our answers carry no `a=simulcast`, so the client sends one layer.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

import aiortc.rtcpeerconnection
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters

RID = [
    RTCRtpHeaderExtensionParameters(id=10, uri="urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"),
    RTCRtpHeaderExtensionParameters(id=11, uri="urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"),
]
_ON: contextvars.ContextVar[bool] = contextvars.ContextVar("rid_extensions", default=False)


class _Extensions(dict):  # type: ignore[type-arg]
    def __getitem__(self, kind: str) -> list[RTCRtpHeaderExtensionParameters]:
        base = super().__getitem__(kind)
        if kind == "video" and _ON.get():
            return [*base, *RID]
        return base


def _install() -> None:
    current = aiortc.rtcpeerconnection.HEADER_EXTENSIONS
    if not isinstance(current, _Extensions):
        aiortc.rtcpeerconnection.HEADER_EXTENSIONS = _Extensions(current)


@contextlib.contextmanager
def rid_extensions() -> Iterator[None]:
    """Remote descriptions set in this block accept the RID extensions for video."""
    _install()
    token = _ON.set(True)
    try:
        yield
    finally:
        _ON.reset(token)

"""What LiveKit peer connections must negotiate beyond aiortc's defaults: RID, VP9, playout delay.

- A LiveKit client publishes its camera with simulcast, and libwebrtc refuses to even build that
  offer ("negotiates simulcast but does not negotiate the RID RTP header extension") unless the
  bundle's earlier answer accepted the RID extensions. aiortc parses both (rtp.py) but does not
  list them among the extensions it answers. Our answers carry no `a=simulcast`, so the client
  sends one layer.
- Decart's SDKs publish VP9 on request (`preferred_video_codec="vp9"`), offering nothing else;
  aiortc receives VP8 and H.264 only. vp9.py adds the receive side (depacketizer, decoder).

- The room's video asks for zero playout delay (playout.py), unless the service was started with
  `--playout-delay auto`.

Inside `livekit_negotiation()` (a context variable, so it follows our own tasks only) aiortc's
tables have these too; the 2025 path's answers are untouched.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

import aiortc.rtcpeerconnection
from aiortc.rtcrtpparameters import RTCRtcpFeedback, RTCRtpCodecParameters, RTCRtpHeaderExtensionParameters

from decart_flow.service.livekit import playout, vp9

RID = [
    RTCRtpHeaderExtensionParameters(id=10, uri="urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"),
    RTCRtpHeaderExtensionParameters(id=11, uri="urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"),
]
VP9 = [
    RTCRtpCodecParameters(
        mimeType="video/VP9", clockRate=90000, payloadType=123,
        rtcpFeedback=[RTCRtcpFeedback(type="nack"), RTCRtcpFeedback(type="nack", parameter="pli"),
                      RTCRtcpFeedback(type="goog-remb")],
    ),
    RTCRtpCodecParameters(mimeType="video/rtx", clockRate=90000, payloadType=124, parameters={"apt": 123}),
]
_ON: contextvars.ContextVar[bool] = contextvars.ContextVar("livekit_negotiation", default=False)
_PLAYOUT: contextvars.ContextVar[bool] = contextvars.ContextVar("livekit_zero_playout", default=False)


class _Table(dict):  # type: ignore[type-arg]
    """aiortc's per-kind table, with `extra` video entries inside livekit_negotiation()."""

    def __init__(self, base: dict, extra: list, playout: list | None = None) -> None:  # type: ignore[type-arg]
        super().__init__(base)
        self._extra = extra
        self._playout = playout or []

    def __getitem__(self, kind: str) -> list:  # type: ignore[type-arg]
        base = super().__getitem__(kind)
        if kind == "video" and _ON.get():
            return [*base, *self._extra, *(self._playout if _PLAYOUT.get() else ())]
        return base


def _install() -> None:
    module = aiortc.rtcpeerconnection
    if not isinstance(module.HEADER_EXTENSIONS, _Table):
        module.HEADER_EXTENSIONS = _Table(module.HEADER_EXTENSIONS, RID, [playout.EXTENSION])
    if not isinstance(module.CODECS, _Table):
        module.CODECS = _Table(module.CODECS, VP9)
    vp9.install()
    playout.install()


@contextlib.contextmanager
def livekit_negotiation(zero_playout: bool = False) -> Iterator[None]:
    """Descriptions made or set in this block take the RID extensions and VP9 for video, and
    with `zero_playout` the playout-delay extension, which the senders then write."""
    _install()
    token, playout_token = _ON.set(True), _PLAYOUT.set(zero_playout)
    try:
        yield
    finally:
        _PLAYOUT.reset(playout_token)
        _ON.reset(token)

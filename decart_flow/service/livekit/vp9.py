"""Receiving VP9 with aiortc: the RTP payload format (RFC 9628) and a decoder for its frames.

aiortc (1.16) receives VP8 and H.264 only. A LiveKit client asked for VP9 offers nothing else,
often with spatial layers (SVC): one picture is several layer frames in a row, each begun by a
packet with the B bit. The depacketizer strips each packet's payload descriptor and marks where a
layer frame begins; the decoder hands each layer frame to FFmpeg's VP9 decoder in order and keeps
the last picture (the highest layer). `install()` teaches aiortc's receiver both, by codec name;
VP9 is only ever negotiated inside `negotiation.livekit_negotiation()`.
"""

from __future__ import annotations

import fractions
import logging
from typing import Any, Callable

import av
from aiortc import rtcrtpreceiver
from aiortc.codecs.base import Decoder

log = logging.getLogger(__name__)

# Put before the first byte of each layer frame. Compressed data holding these 8 bytes by chance
# splits a frame wrongly once in 2^64 positions; the decoder then drops that picture.
LAYER_START = b"\x00VP9-LF\x00"
TIME_BASE = fractions.Fraction(1, 90000)


class Vp9PayloadError(ValueError):
    pass


def depayload(payload: bytes) -> bytes:
    """The VP9 bitstream in one RTP payload, preceded by LAYER_START when a layer frame begins here."""
    if not payload:
        return b""
    first = payload[0]
    i_bit, p_bit, l_bit, f_bit = first & 0x80, first & 0x40, first & 0x20, first & 0x10
    b_bit, v_bit = first & 0x08, first & 0x02
    pos = 1
    try:
        if i_bit:
            pos += 2 if payload[pos] & 0x80 else 1  # picture id, 15 or 7 bits
        if l_bit:
            pos += 1  # TID, U, SID, D
            if not f_bit:
                pos += 1  # TL0PICIDX
        if f_bit and p_bit:
            while True:  # P_DIFF, N: another follows
                more = payload[pos] & 0x01
                pos += 1
                if not more:
                    break
        if v_bit:
            ss = payload[pos]
            pos += 1
            layers, y_bit, g_bit = (ss >> 5) + 1, ss & 0x10, ss & 0x08
            if y_bit:
                pos += 4 * layers  # width and height of each spatial layer
            if g_bit:
                groups = payload[pos]
                pos += 1
                for _ in range(groups):
                    refs = (payload[pos] >> 2) & 0x03
                    pos += 1 + refs
    except IndexError:
        raise Vp9PayloadError("VP9 payload descriptor longer than the packet") from None
    if pos > len(payload):
        raise Vp9PayloadError("VP9 payload descriptor longer than the packet")
    body = payload[pos:]
    return LAYER_START + body if b_bit else body


class Vp9Decoder(Decoder):
    def __init__(self) -> None:
        self.codec = av.CodecContext.create("vp9", "r")

    def decode(self, encoded_frame: Any) -> list[av.VideoFrame]:
        pictures: list[av.VideoFrame] = []
        for layer in encoded_frame.data.split(LAYER_START):
            if not layer:
                continue
            packet = av.Packet(layer)
            packet.pts = encoded_frame.timestamp
            packet.time_base = TIME_BASE
            pictures.extend(self.codec.decode(packet))
        return pictures[-1:]  # the highest spatial layer of this picture


def _wrap_depayload(original: Callable[[Any, bytes], bytes]) -> Callable[[Any, bytes], bytes]:
    def depayload_any(codec: Any, payload: bytes) -> bytes:
        if codec.name.upper() == "VP9":
            try:
                return depayload(payload)
            except Vp9PayloadError as exc:
                raise ValueError(str(exc)) from None  # aiortc's receiver logs and skips the packet
        return original(codec, payload)

    depayload_any.vp9 = True  # type: ignore[attr-defined]
    return depayload_any


def _wrap_get_decoder(original: Callable[[Any], Decoder]) -> Callable[[Any], Decoder]:
    def get_decoder(codec: Any) -> Decoder:
        if codec.mimeType.lower() == "video/vp9":
            return Vp9Decoder()
        return original(codec)

    get_decoder.vp9 = True  # type: ignore[attr-defined]
    return get_decoder


def install() -> None:
    """aiortc's receiver depacketizes and decodes VP9 as well (once per process)."""
    if not getattr(rtcrtpreceiver.depayload, "vp9", False):
        rtcrtpreceiver.depayload = _wrap_depayload(rtcrtpreceiver.depayload)  # type: ignore[assignment]
    if not getattr(rtcrtpreceiver.get_decoder, "vp9", False):
        rtcrtpreceiver.get_decoder = _wrap_get_decoder(rtcrtpreceiver.get_decoder)  # type: ignore[assignment]

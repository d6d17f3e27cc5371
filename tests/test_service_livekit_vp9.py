"""VP9 from a LiveKit client (service/livekit/vp9.py): RFC 9628 descriptors and layer frames."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest
from aiortc.jitterbuffer import JitterFrame

from decart_flow.service.livekit.vp9 import LAYER_START, Vp9Decoder, Vp9PayloadError, depayload

BODY = b"\x82\x49\x83\x42\x00"


@pytest.mark.parametrize(("descriptor", "starts"), [
    (bytes([0x08]), True),                                  # B only
    (bytes([0x00]), False),                                 # a middle packet
    (bytes([0x88, 0x05]), True),                            # I: 7-bit picture id
    (bytes([0x8C, 0x81, 0x23]), True),                      # I: 15-bit picture id, E
    (bytes([0xA8, 0x81, 0x23, 0x41, 0x07]), True),          # I, L non-flexible: layer byte + TL0PICIDX
    (bytes([0xF8, 0x05, 0x41, 0x03, 0x04]), True),          # I, P, L, F: layer byte, two P_DIFFs
    # V: SS with 2 spatial layers (Y: 4 bytes each) and 1 group with 2 references
    (bytes([0x0A, 0x38, 1, 64, 0, 36, 2, 128, 1, 104, 0x01, 0x28, 1, 2]), True),
])
def test_descriptor_is_stripped_and_layer_starts_marked(descriptor: bytes, starts: bool) -> None:
    assert depayload(descriptor + BODY) == (LAYER_START + BODY if starts else BODY)


def test_a_truncated_descriptor_is_an_error() -> None:
    with pytest.raises(Vp9PayloadError):
        depayload(bytes([0x88]))  # I set, no picture id
    with pytest.raises(Vp9PayloadError):
        depayload(bytes([0x0A, 0x30, 1, 2]))  # SS announces 2 layers' sizes, has half of one


def test_layer_frames_split_over_packets_decode_to_the_picture() -> None:
    encoder = av.CodecContext.create("libvpx-vp9", "w")
    encoder.width, encoder.height, encoder.pix_fmt = 320, 176, "yuv420p"
    encoder.time_base = Fraction(1, 30)
    encoder.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    decoder = Vp9Decoder()
    shown = []
    for i in range(5):
        picture = np.full((176 * 3 // 2, 320), 40 + 30 * i, np.uint8)
        frame = av.VideoFrame.from_ndarray(picture, format="yuv420p")
        frame.pts = i
        for packet in encoder.encode(frame):
            data = bytes(packet)
            half = len(data) // 2
            # two RTP packets: the first begins the layer frame (B), the second ends it (E)
            joined = depayload(bytes([0x08]) + data[:half]) + depayload(bytes([0x04]) + data[half:])
            shown += decoder.decode(JitterFrame(data=joined, timestamp=i * 3000))
    assert len(shown) >= 4
    assert (shown[-1].width, shown[-1].height) == (320, 176)
    luma = shown[-1].to_ndarray(format="gray")
    assert abs(float(luma.mean()) - (40 + 30 * 4)) < 8

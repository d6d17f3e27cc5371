"""The video jitter buffer hands a frame on at its marked last packet (realtime/jitter.py)."""

from __future__ import annotations

from aiortc import rtcrtpreceiver
from aiortc.rtp import RtpPacket

from decart_flow.realtime import jitter
from decart_flow.realtime.jitter import MarkerJitterBuffer


def _packet(seq: int, ts: int, data: bytes, marker: bool = False) -> RtpPacket:
    p = RtpPacket(payload_type=96, sequence_number=seq, timestamp=ts, marker=int(marker))
    p._data = data  # type: ignore[attr-defined]  # what the receiver's depayloader sets
    return p


def test_a_frame_goes_on_at_its_marked_last_packet() -> None:
    buf = MarkerJitterBuffer(capacity=64, is_video=True)
    assert buf.add(_packet(100, 3000, b"a"))[1] is None
    assert buf.add(_packet(101, 3000, b"b"))[1] is None
    frame = buf.add(_packet(102, 3000, b"c", marker=True))[1]
    assert frame is not None and frame.data == b"abc" and frame.timestamp == 3000
    # the next frame on its own, without waiting for a third
    assert buf.add(_packet(103, 6600, b"d", marker=True))[1].data == b"d"


def test_out_of_order_packets_wait_for_the_gap() -> None:
    buf = MarkerJitterBuffer(capacity=64, is_video=True)
    assert buf.add(_packet(10, 90, b"1"))[1] is None
    assert buf.add(_packet(12, 90, b"3", marker=True))[1] is None  # 11 is missing: not whole yet
    frame = buf.add(_packet(11, 90, b"2"))[1]
    assert frame is not None and frame.data == b"123"


def test_a_sender_that_never_marks_still_gets_its_frames_one_later() -> None:
    buf = MarkerJitterBuffer(capacity=64, is_video=True)
    assert buf.add(_packet(1, 100, b"x"))[1] is None
    assert buf.add(_packet(2, 100, b"y"))[1] is None
    frame = buf.add(_packet(3, 200, b"z"))[1]  # the next frame starts: the first is complete
    assert frame is not None and frame.data == b"xy" and frame.timestamp == 100


def test_install_applies_to_video_only() -> None:
    assert jitter.install() and jitter.install()  # idempotent
    make = rtcrtpreceiver.JitterBuffer
    assert type(make(512, is_video=True)) is MarkerJitterBuffer
    assert type(make(16, prefetch=4)) is not MarkerJitterBuffer  # audio: the marker means something else

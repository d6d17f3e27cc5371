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


def test_the_aiortc_internals_are_the_shape_the_buffer_was_checked_against() -> None:
    jitter.check_shape()  # the pinned aiortc: no error


def test_a_changed_aiortc_fails_loudly_instead_of_costing_a_frame(monkeypatch) -> None:
    import pytest

    from aiortc import jitterbuffer

    class Renamed:  # a new aiortc whose receiver buffer is some other class
        def __init__(self, capacity: int, prefetch: int = 0, is_video: bool = False) -> None:
            pass

    monkeypatch.setattr(rtcrtpreceiver, "JitterBuffer", Renamed)
    with pytest.raises(jitter.AiortcChanged, match=r"aiortc 1\.16.*not aiortc.jitterbuffer.JitterBuffer.*pyproject"):
        jitter.install()
    monkeypatch.setattr(rtcrtpreceiver, "JitterBuffer", jitterbuffer.JitterBuffer)
    monkeypatch.delattr(jitterbuffer.JitterBuffer, "_remove_frame")
    with pytest.raises(jitter.AiortcChanged, match="_remove_frame"):
        jitter.install()


def test_a_changed_aioice_fails_loudly_instead_of_offering_lan_addresses(monkeypatch) -> None:
    import aioice.ice
    import pytest

    from decart_flow.realtime import loopback

    loopback.check_aioice()  # the pinned aioice: no error
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6, use_link_local: [])
    with pytest.raises(loopback.AioiceChanged, match=r"takes \(use_ipv4, use_ipv6, use_link_local\)"):
        loopback.check_aioice()
    monkeypatch.delattr(aioice.ice, "get_host_addresses")
    with pytest.raises(loopback.AioiceChanged, match="is gone"):
        loopback.check_aioice()

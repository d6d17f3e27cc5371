"""Received video frames handed on when their last packet arrives, not one frame later.

aiortc's jitter buffer (1.16) knows a video frame is complete only when a packet of the next frame
arrives, so every received frame waits one frame interval (40 ms at 25 fps) before it is decoded.
The sender marks each frame's last RTP packet (the marker bit, RFC 3551 and the VP8 payload format
RFC 7741; aiortc and browsers both set it), so the frame is whole once the packets from its first
to its marked last are all in. `MarkerJitterBuffer` hands it on at that moment and otherwise
behaves as aiortc's buffer does (a sender that never marks still works, one frame later).

Measured with benchmarks/bench_glass.py: cue-to-glass p50 one frame interval shorter.

aiortc makes its buffers inside `RTCRtpReceiver`; `install()` puts ours in place for video (audio
keeps aiortc's, where the marker bit means the start of a talkspurt instead).
"""

from __future__ import annotations

from typing import Any

from aiortc import rtcrtpreceiver
from aiortc.jitterbuffer import JitterBuffer, JitterFrame


class MarkerJitterBuffer(JitterBuffer):
    def _remove_frame(self, sequence_number: int) -> JitterFrame | None:
        packets: list[Any] = []
        timestamp = None
        capacity, slots, origin = self._capacity, self._packets, self._origin
        assert origin is not None  # set by the first add()
        # libwebrtc (LiveKit clients) sends padding-only packets after a frame's marked last
        # packet, with that frame's timestamp. Handed on alone they would be an empty frame, which
        # a decoder takes as end of stream (H.264 then fails every later frame): drop them here.
        while (packet := slots[origin % capacity]) is not None and not packet._data:
            self.remove(1)
            origin = self._origin
        for count in range(capacity):
            packet = slots[(origin + count) % capacity]
            if packet is None:
                break
            if timestamp is None:
                timestamp = packet.timestamp
            elif packet.timestamp != timestamp:
                break  # the first frame has no marked packet: aiortc's way below
            packets.append(packet)
            if packet.marker:
                self.remove(count + 1)
                return JitterFrame(data=b"".join(p._data for p in packets), timestamp=timestamp)
        return super()._remove_frame(sequence_number)


def _make_buffer(capacity: int, prefetch: int = 0, is_video: bool = False) -> JitterBuffer:
    cls = MarkerJitterBuffer if is_video else JitterBuffer
    return cls(capacity, prefetch=prefetch, is_video=is_video)


class AiortcChanged(RuntimeError):
    """aiortc's internals are not the shape this module was checked against: update it."""


CHECKED = "aiortc 1.16"  # what the private internals below were read from (pyproject pins it)


def check_shape() -> None:
    """Raise `AiortcChanged` unless aiortc's private internals are those `MarkerJitterBuffer` uses.

    The buffer subclasses a private class and reads its slots; a new aiortc could rename any of
    them, and silently falling back would cost every cue a frame interval without a word.
    """
    import inspect

    import aiortc

    def changed(what: str) -> AiortcChanged:
        return AiortcChanged(f"aiortc {aiortc.__version__}: {what}; realtime/jitter.py was checked against "
                             f"{CHECKED} (pinned in pyproject.toml): update the patch or the pin")

    receiver = getattr(rtcrtpreceiver, "RTCRtpReceiver", None)
    if receiver is None or "JitterBuffer" not in receiver.__init__.__code__.co_names:
        raise changed("RTCRtpReceiver no longer makes its buffers as `JitterBuffer(...)`")
    if getattr(rtcrtpreceiver, "JitterBuffer", None) not in (JitterBuffer, _make_buffer):
        raise changed("rtcrtpreceiver.JitterBuffer is not aiortc.jitterbuffer.JitterBuffer")
    if "_data" not in rtcrtpreceiver.RTCRtpReceiver._handle_rtp_packet.__code__.co_names:
        raise changed("the receiver no longer puts a packet's depayloaded bytes in `packet._data`")
    params = inspect.signature(JitterBuffer.__init__).parameters
    if not {"capacity", "prefetch", "is_video"} <= set(params):
        raise changed(f"JitterBuffer takes ({', '.join(params)}), not capacity, prefetch, is_video")
    if list(inspect.signature(JitterFrame.__init__).parameters)[1:] != ["data", "timestamp"]:
        raise changed("JitterFrame is no longer JitterFrame(data, timestamp)")
    if not all(callable(getattr(JitterBuffer, name, None)) for name in ("_remove_frame", "remove", "add")):
        raise changed("JitterBuffer has no _remove_frame/remove/add")
    probe = JitterBuffer(capacity=4, is_video=True)
    missing = [name for name in ("_capacity", "_packets", "_origin") if not hasattr(probe, name)]
    if missing:
        raise changed(f"JitterBuffer has no {', '.join(missing)}")


def install() -> bool:
    """Make aiortc's receivers use `MarkerJitterBuffer` for video; `AiortcChanged` if aiortc changed shape."""
    current = getattr(rtcrtpreceiver, "JitterBuffer", None)
    if current is _make_buffer:
        return True
    check_shape()
    rtcrtpreceiver.JitterBuffer = _make_buffer  # type: ignore[attr-defined,assignment]
    return True

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

import logging
from typing import Any

from aiortc import rtcrtpreceiver
from aiortc.jitterbuffer import JitterBuffer, JitterFrame

log = logging.getLogger(__name__)


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


def install() -> bool:
    """Make aiortc's receivers use `MarkerJitterBuffer` for video; False if aiortc changed shape."""
    current = getattr(rtcrtpreceiver, "JitterBuffer", None)
    if current is _make_buffer:
        return True
    if current is not JitterBuffer:
        log.debug("aiortc's receiver no longer uses JitterBuffer by that name: frames wait one interval")
        return False
    rtcrtpreceiver.JitterBuffer = _make_buffer  # type: ignore[attr-defined,assignment]
    return True

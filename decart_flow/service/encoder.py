"""Our own VP8 encoder for the output track, tuned for loopback rather than the internet.

aiortc's encoder (cpu-used -6, 500 kbps start, one thread under 3 CPUs) costs more CPU per frame
than a 2-core machine can spare at 1280x704 and 25 fps while it also decodes the input. On
loopback, bandwidth is free and CPU is not: a faster speed setting at a higher bitrate keeps
the picture (and the stamp) clean for less CPU. The track hands aiortc finished packets, which
aiortc sends as they are. A keyframe every two seconds replaces answering picture-loss
requests, which aiortc does not pass on for pre-encoded packets. The track says which frames
are keyframes (`encode(frame, keyframe=True)`), so that one never falls on the frame that
first shows a change: a keyframe costs about twice the encode time of a delta frame, and with
cues on a regular beat a fixed keyframe interval can land on every few changes.
"""

from __future__ import annotations

from fractions import Fraction

import av
from av.video.frame import PictureType

SPEED = "16"  # libvpx cpu-used for realtime: higher is faster and coarser
BITRATE = 1_200_000
NEVER = 1 << 30  # libvpx's own keyframe interval: the caller places every keyframe after the first


class Vp8Stream:
    """Encodes yuv420p frames of one size into VP8 packets, one packet per frame."""

    def __init__(self, width: int, height: int, fps: int) -> None:
        codec = av.CodecContext.create("libvpx", "w")
        codec.width, codec.height = width, height
        codec.pix_fmt = "yuv420p"
        codec.time_base = Fraction(1, 90_000)
        codec.framerate = Fraction(fps)
        codec.bit_rate = BITRATE
        codec.gop_size = NEVER
        codec.thread_count = 1
        codec.qmin, codec.qmax = 4, 48
        codec.options = {
            "deadline": "realtime",
            "cpu-used": SPEED,
            "lag-in-frames": "0",
            "minrate": str(BITRATE // 2),
            "maxrate": str(BITRATE),
            "bufsize": str(BITRATE),
            "static-thresh": "1",
            "undershoot-pct": "100",
            "overshoot-pct": "15",
            "partitions": "0",
        }
        self._codec = codec

    def encode(self, frame: av.VideoFrame, keyframe: bool = False) -> av.Packet | None:
        """One frame; the first is always a keyframe, later ones when `keyframe` asks."""
        frame.pict_type = PictureType.I if keyframe else PictureType.NONE
        packets = self._codec.encode(frame)
        if not packets:
            return None
        packet = packets[0] if len(packets) == 1 else _joined(packets)
        packet.pts = frame.pts
        packet.time_base = frame.time_base
        return packet

    def close(self) -> None:
        self._codec = None  # type: ignore[assignment]


def _joined(packets: list[av.Packet]) -> av.Packet:
    return av.Packet(b"".join(bytes(p) for p in packets))

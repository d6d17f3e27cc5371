"""Zero playout delay on the room's video, as a LiveKit room with `playout_delay` configured asks.

A libwebrtc receiver (LiveKit's clients, browsers) holds each decoded frame until a render time
it derives from its jitter estimate, to smooth playback. For a picture that must change on a cue,
that hold is latency that wanders from frame to frame. The playout-delay RTP header extension with
min = max = 0 tells the receiver to show each frame as soon as it is decoded. aiortc parses and
writes a fixed set of extensions and this is not among them: `install()` teaches its senders to
write it on every packet of a peer connection that negotiated it (the service's LiveKit
subscriber connections offer it; the 2025 path never does).
"""

from __future__ import annotations

from typing import Any

from aiortc import rtp
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters

from decart_flow.realtime.jitter import AiortcChanged

URI = "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay"
EXTENSION = RTCRtpHeaderExtensionParameters(id=12, uri=URI)
ZERO = b"\x00\x00\x00"  # 12 bits of minimum, 12 of maximum, in 10 ms units: both 0


class _PlayoutDelayMap(rtp.HeaderExtensionsMap):
    """aiortc's map, plus the playout-delay extension when the connection negotiated it."""

    _playout_id: int | None = None

    def configure(self, parameters: Any) -> None:
        super().configure(parameters)
        self._playout_id = next((e.id for e in parameters.headerExtensions if e.uri == URI), None)

    def set(self, values: Any) -> tuple[int, bytes]:
        profile, packed = super().set(values)
        if self._playout_id is None:
            return profile, packed
        extensions = list(rtp.unpack_header_extensions(profile, packed)) if packed else []
        extensions.append((self._playout_id, ZERO))
        return rtp.pack_header_extensions(extensions)


def install() -> None:
    """Make aiortc's RTP senders write zero playout delay where it was negotiated."""
    base = rtp.HeaderExtensionsMap
    if base is _PlayoutDelayMap:
        return
    if not all(hasattr(rtp, name) for name in ("pack_header_extensions", "unpack_header_extensions")) \
            or not all(hasattr(base, name) for name in ("configure", "set", "get")):
        raise AiortcChanged("aiortc.rtp's header extension map changed shape: the playout-delay patch needs updating")
    rtp.HeaderExtensionsMap = _PlayoutDelayMap  # type: ignore[misc]

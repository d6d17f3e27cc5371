"""The 2025 transport of a session: one peer connection, negotiated on the control channel.

`offer` -> our answer (with our candidates, on loopback) and `session_id`; `ice-candidate`s are
added (kept until the offer came); `switch_camera` mirrors. The client's video feeds the session's
renderer and its audio the avatar's mouth; the session's output track goes back on the same
connection.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from decart_flow.realtime import jitter
from decart_flow.realtime.loopback import loopback_candidates
from decart_flow.service.loopback import add_candidate, keep_local_candidates
from decart_flow.service.tracks import read_audio, read_video

if TYPE_CHECKING:
    from decart_flow.service.signaling import StreamSession

log = logging.getLogger(__name__)

Handler = Callable[[dict], Awaitable[None]]


class PeerTransport:
    """The 2025 era's media: a peer connection with the client, set up on this channel."""

    def __init__(self, session: StreamSession, pcs: set[RTCPeerConnection], host: str, port: int) -> None:
        self.session = session
        self.pc: RTCPeerConnection | None = None
        self._pcs = pcs
        self._host, self._port = host, port
        self._pending_candidates: list[dict | None] = []
        self.handlers: dict[str, Handler] = {
            "switch_camera": session.on_switch_camera,
            "offer": self._on_offer,
            "ice-candidate": self._on_ice_candidate,
        }

    @property
    def started(self) -> bool:
        """Media asked for (an offer came): the connection is no longer idle."""
        return self.pc is not None

    @property
    def idle(self) -> bool:
        """Nothing negotiated yet: the connection may still turn out to be today's protocol."""
        return self.pc is None

    async def close(self) -> None:
        if self.pc is not None:
            pc, self.pc = self.pc, None
            await pc.close()
            self._pcs.discard(pc)

    @property
    def _tag(self) -> str:
        return self.session.id[:8]

    async def _on_offer(self, message: dict) -> None:
        sdp = message.get("sdp")
        if not isinstance(sdp, str) or not sdp.strip():
            log.warning("session %s: skipped an offer without sdp", self._tag)
            return
        if self.pc is not None:
            log.warning("session %s: skipped a second offer (renegotiation is not supported)", self._tag)
            return
        session = self.session
        jitter.install()  # the client's frames go on at their last packet (realtime/jitter.py)
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc = pc
        self._pcs.add(pc)

        @pc.on("track")
        def on_track(track: Any) -> None:
            if track.kind == "video":
                session.spawn(read_video(track, session.latest))
            elif track.kind == "audio":
                session.spawn(read_audio(track, session.loudness))

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            log.info("session %s: peer connection %s", self._tag, pc.connectionState)
            if pc.connectionState == "failed":
                await pc.close()

        try:
            await self._answer(pc, sdp)
        except Exception as exc:  # aiortc raises assorted errors for SDP it cannot use
            log.warning("session %s: skipped an offer that cannot be answered: %r", self._tag, exc)
            session.drop_track()
            self.pc = None
            self._pcs.discard(pc)
            await pc.close()
            return
        await session.send({"type": "answer", "sdp": pc.localDescription.sdp})
        await session.send({"type": "session_id", "session_id": session.id, "server_ip": self._host, "server_port": self._port})
        for candidate in self._pending_candidates:
            await self._add_candidate(candidate)
        self._pending_candidates.clear()

    async def _answer(self, pc: RTCPeerConnection, sdp: str) -> None:
        """Apply the offer, attach our video, gather on loopback, set the answer."""
        await pc.setRemoteDescription(RTCSessionDescription(sdp=vp8_first(keep_local_candidates(sdp)), type="offer"))
        track = self.session.make_track()
        pc.addTrack(track)
        answer = await pc.createAnswer()
        with loopback_candidates():
            await pc.setLocalDescription(answer)
        if sends_vp8(pc.localDescription.sdp):
            track.encode_vp8_here()
        track.prepare_first_frame()

    async def _on_ice_candidate(self, message: dict) -> None:
        candidate = message.get("candidate")
        if candidate is not None and not (isinstance(candidate, dict) and isinstance(candidate.get("candidate"), str)):
            log.warning("session %s: skipped a malformed ice-candidate", self._tag)
            return
        if self.pc is None or self.pc.remoteDescription is None:
            self._pending_candidates.append(candidate)
            return
        await self._add_candidate(candidate)

    async def _add_candidate(self, payload: dict | None) -> None:
        assert self.pc is not None
        if payload is None:
            await self.pc.addIceCandidate(None)
            return
        line = payload["candidate"].removeprefix("a=")
        if not line:  # browsers send an empty candidate as end-of-candidates
            await self.pc.addIceCandidate(None)
            return
        await add_candidate(self.pc, line, payload.get("sdpMid"), payload.get("sdpMLineIndex"), f"session {self._tag}")


def sends_vp8(sdp: str) -> bool:
    """Is VP8 the first (chosen) codec of the answer's video section?"""
    video = sdp.split("m=video", 1)
    if len(video) < 2:
        return False
    section = video[1].split("\nm=", 1)[0]
    payload_types = section.split("\n", 1)[0].split()[2:]
    return bool(payload_types) and f"a=rtpmap:{payload_types[0]} VP8/90000" in section


def vp8_first(sdp: str) -> str:
    """The offer with VP8 moved to the front of its video codecs.

    aiortc answers in the order of the offer's rtpmap lines, and a browser may list H264
    first. The stamp and our encoder are tuned for VP8, so we pick it whenever it is offered.
    """
    lines = sdp.splitlines()
    for i, line in enumerate(lines):
        if not line.startswith("m=video "):
            continue
        head, payload_types = line.split()[:3], line.split()[3:]
        section_end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("m=")), len(lines))
        vp8 = [pt for pt in payload_types if f"a=rtpmap:{pt} VP8/90000" in lines[i:section_end]]
        lines[i] = " ".join(head + vp8 + [pt for pt in payload_types if pt not in vp8])
        slots = [j for j in range(i + 1, section_end) if lines[j].startswith("a=rtpmap:")]
        rtpmaps = [lines[j] for j in slots]
        ordered = [r for r in rtpmaps if " VP8/90000" in r] + [r for r in rtpmaps if " VP8/90000" not in r]
        for j, line_text in zip(slots, ordered):
            lines[j] = line_text
    return "\r\n".join(lines) + "\r\n"

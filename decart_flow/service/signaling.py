"""One control channel of PROTOCOL.md, in either era: control messages in, acks out.

The session core is era-free: prompt, set_image and their acks, the renderer and its output
track, generation started/tick/ended. What differs is how media travels:
- 2025: `offer`/`ice-candidate` on this channel, one peer connection with the client;
- 2026: `livekit_join` (or `livekit_early_room_info=true` on the URL), answered with
  `livekit_room_info` once a slot is free (`queue_position` meanwhile); media goes through the
  LiveKit room of the session (service/livekit/), which relays the same output track.

Messages are handled one at a time in arrival order, so an ack always follows the state change
it acknowledges, and a frame rendered after the ack carries the new stamp. Anything malformed
is logged and skipped; only the socket closing ends a session.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
import uuid
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import aiohttp
import av
from aiohttp import web
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.sdp import candidate_from_sdp

from decart_flow.realtime import jitter
from decart_flow.service.avatar import Loudness
from decart_flow.service.faults import Faults
from decart_flow.service.looks import ChromaStats
from decart_flow.service.loopback import is_local_candidate, keep_local_candidates, loopback_gathering
from decart_flow.realtime.models import ModelDefinition
from decart_flow.service.pictures import PictureError, decode_image, frame_planes, to_planes
from decart_flow.service.renderer import Renderer
from decart_flow.service.tracks import LatestFrame, OutputTrack, read_audio, read_video

if TYPE_CHECKING:
    from decart_flow.service.livekit.room import Room
    from decart_flow.service.today import Today

log = logging.getLogger(__name__)

MAX_PROMPT_CHARS = 1000


class StreamSession:
    """Everything one client connection owns: socket, peer connection, tasks, renderer."""

    def __init__(self, ws: web.WebSocketResponse, model: ModelDefinition, faults: Faults, pcs: set[RTCPeerConnection], host: str, port: int,
                 today: Today | None = None, rooms: bool = False, resolution: str | None = None) -> None:
        self.ws = ws
        self.model = model
        self.faults = faults
        self.id = uuid.uuid4().hex
        width, height = model.size_at(resolution)
        self.renderer = Renderer(model if (width, height) == (model.width, model.height) else replace(model, width=width, height=height))
        self.latest = LatestFrame()
        self.loudness = Loudness()
        self.pc: RTCPeerConnection | None = None
        self.track: OutputTrack | None = None
        self._pcs = pcs
        self._host, self._port = host, port
        self._tasks: set[asyncio.Task[Any]] = set()
        self._generation_start: float | None = None
        self._pending_candidates: list[dict | None] = []
        self._random = random.Random(self.id)
        # 2026: media through a LiveKit room instead of a peer connection on this channel
        self._today = today
        self.rooms = rooms  # this connection speaks today's protocol
        self.room: Room | None = None
        self._joined = False
        self._holds_slot = False

    # -- the session's life -------------------------------------------------------------------

    async def run(self) -> None:
        if self.faults.drop_ws_after is not None:
            self._spawn(self._drop_after(self.faults.drop_ws_after))
        try:
            async for msg in self.ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    await self._on_text(msg.data)
                elif msg.type == aiohttp.WSMsgType.ERROR:
                    log.warning("session %s: websocket error: %s", self.id[:8], self.ws.exception())
                    break
                else:
                    log.warning("session %s: skipped a non-text websocket frame", self.id[:8])
        finally:
            await self.close("client_disconnected")

    async def close(self, reason: str) -> None:
        """End generation, close the socket and the peer connection; safe to call twice."""
        if self._generation_start is not None and not self.ws.closed:
            with contextlib.suppress(Exception):
                await self.send({"type": "generation_ended", "seconds": self._generation_seconds(), "reason": reason})
        self._generation_start = None
        for task in list(self._tasks):
            if task is not asyncio.current_task():
                task.cancel()
        if self.room is not None and self._today is not None:
            room, self.room = self.room, None
            await self._today.close_room(room)
        if self._holds_slot and self._today is not None:
            self._holds_slot = False
            self._today.slots.release()
        if self.track is not None:
            self.track.stop()
        if self.pc is not None:
            pc, self.pc = self.pc, None
            await pc.close()
            self._pcs.discard(pc)
        if not self.ws.closed:
            await self.ws.close()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def send(self, message: dict) -> None:
        if not self.ws.closed:
            await self.ws.send_str(json.dumps(message))

    async def _drop_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        log.info("fault: dropping websocket of session %s", self.id[:8])
        await self.ws.close(code=aiohttp.WSCloseCode.GOING_AWAY)

    # -- messages -----------------------------------------------------------------------------

    async def _on_text(self, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            log.warning("session %s: skipped a message that is not JSON", self.id[:8])
            return
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            log.warning("session %s: skipped a message without a type", self.id[:8])
            return
        if message["type"] == "livekit_join" and self._today is not None and not self.model.avatar:
            self.rooms = True
        handler = {
            "prompt": StreamSession._on_prompt,
            "set_image": StreamSession._on_set_image,
            **(_TODAY_HANDLERS if self.rooms else _PEER_HANDLERS),
        }.get(message["type"])
        if handler is None and message["type"] in _PEER_HANDLERS:
            log.warning("session %s: skipped %s: today's protocol carries media through the LiveKit room", self.id[:8], message["type"])
            return
        if handler is None:
            log.warning("session %s: skipped unknown message type %r", self.id[:8], message["type"][:40])
            return
        try:
            await handler(self, message)
        except Exception:
            log.exception("session %s: failed to handle a %s message", self.id[:8], message["type"])

    async def _ack(self, message: dict) -> None:
        if self.faults.ack_delay:
            await asyncio.sleep(self.faults.ack_delay)
        await self.send(message)

    async def _on_prompt(self, message: dict) -> None:
        prompt = message.get("prompt")
        if not isinstance(prompt, str):
            log.warning("session %s: skipped a prompt message without prompt text", self.id[:8])
            return
        enhance = bool(message.get("enhance_prompt", True))
        error = _prompt_problem(prompt)
        if error is None and self.faults.reject_prompts and self._random.random() < self.faults.reject_prompts:
            error = "prompt rejected (fault injection)"
        if error is None:
            self.renderer.set_prompt(prompt, enhance)
            self._show_change()
        await self._ack({"type": "prompt_ack", "prompt": prompt, "success": error is None, "error": error})

    async def _on_set_image(self, message: dict) -> None:
        image_data, prompt = message.get("image_data"), message.get("prompt")
        enhance = bool(message.get("enhance_prompt", True))
        error: str | None = None
        reference = portrait = None
        if image_data is not None and not isinstance(image_data, str):
            error = "image_data must be a base64 string or null"
        elif prompt is not None and not isinstance(prompt, str):
            error = "prompt must be a string or null"
        elif prompt is not None:
            error = _prompt_problem(prompt)
        if error is None and image_data is not None:
            try:
                loop = asyncio.get_running_loop()
                reference, portrait = await loop.run_in_executor(None, self._read_image, image_data)
            except PictureError as exc:
                error = str(exc)
        if error is None:
            self.renderer.set_image(reference, portrait, prompt, enhance)
            self._show_change()
        await self._ack({"type": "set_image_ack", "success": error is None, "error": error})

    def _read_image(self, data: str) -> tuple[ChromaStats | None, Any]:
        image = decode_image(data)
        planes = to_planes(image, self.model.width, self.model.height)
        if self.model.avatar:
            return None, planes
        small = frame_planes(av.VideoFrame.from_image(image.resize((256, 256))).reformat(format="yuv420p"))
        return ChromaStats.of(small.u, small.v), None

    async def _on_switch_camera(self, message: dict) -> None:
        rotate = message.get("rotateY")
        if rotate not in (0, 2) or isinstance(rotate, bool):
            log.warning("session %s: skipped switch_camera with rotateY %r (expected 0 or 2)", self.id[:8], rotate)
            return
        self.renderer.set_mirror(rotate == 2)
        self._show_change()

    # -- 2026: a LiveKit room ------------------------------------------------------------------

    async def _on_livekit_join(self, message: dict) -> None:
        if self._joined:
            log.warning("session %s: skipped a second livekit_join", self.id[:8])
            return
        self._joined = True
        initial = message.get("initial_state")
        if initial is not None:
            # Applied and acked as if it had come on its own, before the room info.
            if isinstance(initial, dict) and initial.get("type") in ("prompt", "set_image"):
                await self._on_text(json.dumps(initial))
            else:
                log.warning("session %s: skipped an initial_state that is not a prompt or set_image", self.id[:8])
        self._spawn(self._join_room())

    async def _join_room(self) -> None:
        """Wait for a slot (telling the client its place in line), then open the room."""
        assert self._today is not None
        await self._today.slots.acquire(self._queue_position)
        self._holds_slot = True
        if self.faults.queue_for:
            await self._today.hold_in_queue(self.faults.queue_for, self._queue_position)
        if self.ws.closed:
            return
        self.track = OutputTrack(
            self.renderer,
            self.latest,
            self.loudness,
            on_first_frame=self._on_first_frame,
            stall_after=self.faults.stall_video_after,
        )
        self.track.encode_vp8_here()  # LiveKit answers always send VP8 (connection.py)
        self.track.prepare_first_frame()
        self.room = self._today.open_room(self)
        self.room.set_output(self.track)
        await self.send(self._today.room_info(self.room, self.id))

    async def _queue_position(self, position: int, size: int) -> None:
        await self.send({"type": "queue_position", "position": position, "queue_size": size})

    def camera(self, track: Any) -> None:
        """The client's camera arrived through the room: it feeds the renderer as in 2025."""
        self._spawn(read_video(track, self.latest))

    def _show_change(self) -> None:
        if self.track is not None:
            self.track.show_change()

    # -- WebRTC -------------------------------------------------------------------------------

    async def _on_offer(self, message: dict) -> None:
        sdp = message.get("sdp")
        if not isinstance(sdp, str) or not sdp.strip():
            log.warning("session %s: skipped an offer without sdp", self.id[:8])
            return
        if self.pc is not None:
            log.warning("session %s: skipped a second offer (renegotiation is not supported)", self.id[:8])
            return
        jitter.install()  # the client's frames go on at their last packet (realtime/jitter.py)
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc = pc
        self._pcs.add(pc)

        @pc.on("track")
        def on_track(track: Any) -> None:
            if track.kind == "video":
                self._spawn(read_video(track, self.latest))
            elif track.kind == "audio":
                self._spawn(read_audio(track, self.loudness))

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            log.info("session %s: peer connection %s", self.id[:8], pc.connectionState)
            if pc.connectionState == "failed":
                await pc.close()

        try:
            await self._answer(pc, sdp)
        except Exception as exc:  # aiortc raises assorted errors for SDP it cannot use
            log.warning("session %s: skipped an offer that cannot be answered: %r", self.id[:8], exc)
            if self.track is not None:
                self.track.stop()
            self.pc, self.track = None, None
            self._pcs.discard(pc)
            await pc.close()
            return
        await self.send({"type": "answer", "sdp": pc.localDescription.sdp})
        await self.send({"type": "session_id", "session_id": self.id, "server_ip": self._host, "server_port": self._port})
        for candidate in self._pending_candidates:
            await self._add_candidate(candidate)
        self._pending_candidates.clear()

    async def _answer(self, pc: RTCPeerConnection, sdp: str) -> None:
        """Apply the offer, attach our video, gather on loopback, set the answer."""
        await pc.setRemoteDescription(RTCSessionDescription(sdp=_vp8_first(keep_local_candidates(sdp)), type="offer"))
        self.track = OutputTrack(
            self.renderer,
            self.latest,
            self.loudness,
            on_first_frame=self._on_first_frame,
            stall_after=self.faults.stall_video_after,
        )
        pc.addTrack(self.track)
        answer = await pc.createAnswer()
        with loopback_gathering():
            await pc.setLocalDescription(answer)
        if _sends_vp8(pc.localDescription.sdp):
            self.track.encode_vp8_here()
        self.track.prepare_first_frame()

    async def _on_ice_candidate(self, message: dict) -> None:
        candidate = message.get("candidate")
        if candidate is not None and not (isinstance(candidate, dict) and isinstance(candidate.get("candidate"), str)):
            log.warning("session %s: skipped a malformed ice-candidate", self.id[:8])
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
        if not is_local_candidate(line):
            log.debug("session %s: ignored a candidate that is not on this machine", self.id[:8])
            return
        candidate = candidate_from_sdp(line.removeprefix("candidate:"))
        candidate.sdpMid = payload.get("sdpMid")
        candidate.sdpMLineIndex = payload.get("sdpMLineIndex")
        if candidate.sdpMid is None and candidate.sdpMLineIndex is None:
            candidate.sdpMLineIndex = 0
        await self.pc.addIceCandidate(candidate)

    # -- generation ---------------------------------------------------------------------------

    def _on_first_frame(self) -> None:
        self._generation_start = time.monotonic()
        self._spawn(self._generation())

    async def _generation(self) -> None:
        await self.send({"type": "generation_started"})
        seconds = 0
        while True:
            await asyncio.sleep(1.0)
            seconds += 1
            await self.send({"type": "generation_tick", "seconds": seconds})

    def _generation_seconds(self) -> int:
        return int(time.monotonic() - self._generation_start) if self._generation_start else 0


_PEER_HANDLERS = {
    "switch_camera": StreamSession._on_switch_camera,
    "offer": StreamSession._on_offer,
    "ice-candidate": StreamSession._on_ice_candidate,
}
_TODAY_HANDLERS = {
    "livekit_join": StreamSession._on_livekit_join,
}


def _prompt_problem(prompt: str) -> str | None:
    if len(prompt) > MAX_PROMPT_CHARS:
        return f"prompt is longer than {MAX_PROMPT_CHARS} characters ({len(prompt)})"
    return None


def _sends_vp8(sdp: str) -> bool:
    """Is VP8 the first (chosen) codec of the answer's video section?"""
    video = sdp.split("m=video", 1)
    if len(video) < 2:
        return False
    section = video[1].split("\nm=", 1)[0]
    payload_types = section.split("\n", 1)[0].split()[2:]
    return bool(payload_types) and f"a=rtpmap:{payload_types[0]} VP8/90000" in section


def _vp8_first(sdp: str) -> str:
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

"""One control channel of PROTOCOL.md, in either era: control messages in, acks out.

The session core is era-free: prompt, set_image and their acks, the renderer and its output
track, generation started/tick/ended. What differs is how media travels, the transport:
- 2025 (peer.py): `offer`/`ice-candidate` on this channel, one peer connection with the client;
- 2026 (room_transport.py): `livekit_join` (or `livekit_early_room_info=true` on the URL),
  answered with `livekit_room_info` once a slot is free (`queue_position` meanwhile); media goes
  through the LiveKit room of the session (service/livekit/), which relays the same output track.

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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import aiohttp
import av
from aiohttp import web
from aiortc import RTCPeerConnection

from decart_flow.service.avatar import Loudness
from decart_flow.service.faults import Faults
from decart_flow.service.looks import ChromaStats
from decart_flow.realtime.models import ModelDefinition
from decart_flow.service.peer import PeerTransport
from decart_flow.service.pictures import PictureError, decode_image, frame_planes, to_planes
from decart_flow.service.renderer import Renderer
from decart_flow.service.room_transport import RoomTransport
from decart_flow.service.tracks import LatestFrame, OutputTrack

if TYPE_CHECKING:
    from decart_flow.service.today import Today

log = logging.getLogger(__name__)

MAX_PROMPT_CHARS = 1000
# Images are decoded on threads of their own: eight sessions sending big pictures at once must
# not take the default executor's threads that render every session's frames.
_IMAGES = ThreadPoolExecutor(max_workers=2, thread_name_prefix="service-images")


class StreamSession:
    """Everything one client connection owns: socket, transport (peer connection or room), tasks, renderer."""

    def __init__(self, ws: web.WebSocketResponse, model: ModelDefinition, faults: Faults, pcs: set[RTCPeerConnection], host: str, port: int,
                 today: Today | None = None, rooms: bool = False, resolution: str | None = None,
                 idle_timeout: float | None = None) -> None:
        self.ws = ws
        self.idle_timeout = idle_timeout
        self.model = model
        self.faults = faults
        self.drop_after = faults.drop_ws_after  # the service may drop only one session (drop-first-ws-after)
        self.id = uuid.uuid4().hex
        width, height = model.size_at(resolution)
        self.renderer = Renderer(model if (width, height) == (model.width, model.height) else replace(model, width=width, height=height))
        self.latest = LatestFrame()
        self.loudness = Loudness()
        self.track: OutputTrack | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._generation_start: float | None = None
        self._random = random.Random(self.id)
        self._today = today
        self.transport: PeerTransport | RoomTransport = (
            RoomTransport(self, today) if rooms and today is not None else PeerTransport(self, pcs, host, port)
        )

    # -- the session's life -------------------------------------------------------------------

    async def run(self) -> None:
        if self.drop_after is not None:
            self.spawn(self._drop_after(self.drop_after))
        if self.idle_timeout is not None:
            self.spawn(self._close_if_idle(self.idle_timeout))
        try:
            async for msg in self.ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    await self.on_text(msg.data)
                elif msg.type == aiohttp.WSMsgType.ERROR:
                    log.warning("session %s: websocket error: %s", self.id[:8], self.ws.exception())
                    break
                else:
                    log.warning("session %s: skipped a non-text websocket frame", self.id[:8])
                # Fairness: messages that arrived together are taken from aiohttp's buffer without
                # a pause, so a client with hundreds queued held the event loop until all were
                # done. One message, then every other session's turn.
                await asyncio.sleep(0)
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
        await self.transport.close()
        if self.track is not None:
            self.track.stop()
        if not self.ws.closed:
            await self.ws.close()

    def spawn(self, coro: Any) -> None:
        """Run coro as a task of this session: cancelled when it closes."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def send(self, message: dict) -> None:
        """One message to the client; a client that has gone is not an error of ours (nothing to send to)."""
        if self.ws.closed:
            return
        try:
            await self.ws.send_str(json.dumps(message))
        except ConnectionError:  # aiohttp's ClientConnectionResetError: the socket is closing
            log.debug("session %s: the client left before a %s could be sent", self.id[:8], message.get("type"))

    async def _close_if_idle(self, seconds: float) -> None:
        """Close a connection that has not started media in time: an open socket costs memory."""
        await asyncio.sleep(seconds)
        if self.transport.started or self.ws.closed:
            return
        asked = "livekit_join" if isinstance(self.transport, RoomTransport) else "an offer (or livekit_join)"
        log.info("session %s: closed: no %s within %.0f s", self.id[:8], asked, seconds)
        await self.send({"type": "error", "error": f"closed an idle connection: no {asked} within {seconds:g} s of "
                                                   "connecting; connect again when the stream is to start"})
        await self.ws.close(code=aiohttp.WSCloseCode.POLICY_VIOLATION)

    async def _drop_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        log.info("fault: dropping websocket of session %s", self.id[:8])
        await self.ws.close(code=aiohttp.WSCloseCode.GOING_AWAY)

    # -- messages -----------------------------------------------------------------------------

    async def on_text(self, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            log.warning("session %s: skipped a message that is not JSON", self.id[:8])
            return
        except RecursionError:  # a few thousand nested brackets: json gives up, the session goes on
            log.warning("session %s: skipped a JSON message nested too deeply", self.id[:8])
            return
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            log.warning("session %s: skipped a message without a type", self.id[:8])
            return
        kind = message["type"]
        if kind == "livekit_join" and self.transport.idle and self._today is not None and not self.model.is_avatar:
            self.transport = RoomTransport(self, self._today)  # a 2026 client that did not say so on the URL
        handler = {"prompt": self._on_prompt, "set_image": self._on_set_image, **self.transport.handlers}.get(kind)
        if handler is None and kind in _PEER_ONLY:
            log.warning("session %s: skipped %s: today's protocol carries media through the LiveKit room", self.id[:8], kind)
            return
        if handler is None:
            log.warning("session %s: skipped unknown message type %r", self.id[:8], kind[:40])
            return
        try:
            await handler(message)
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
                reference, portrait = await loop.run_in_executor(_IMAGES, self._read_image, image_data)
            except PictureError as exc:
                error = str(exc)
        if error is None:
            self.renderer.set_image(reference, portrait, prompt, enhance)
            self._show_change()
        await self._ack({"type": "set_image_ack", "success": error is None, "error": error})

    def _read_image(self, data: str) -> tuple[ChromaStats | None, Any]:
        image = decode_image(data)
        planes = to_planes(image, self.renderer.model.width, self.renderer.model.height)
        if self.model.is_avatar:
            return None, planes
        small = frame_planes(av.VideoFrame.from_image(image.resize((256, 256))).reformat(format="yuv420p"))
        return ChromaStats.of(small.u, small.v), None

    async def on_switch_camera(self, message: dict) -> None:
        """The 2025 mirror (only that era's transport routes it here)."""
        rotate = message.get("rotateY")
        if rotate not in (0, 2) or isinstance(rotate, bool):
            log.warning("session %s: skipped switch_camera with rotateY %r (expected 0 or 2)", self.id[:8], rotate)
            return
        self.renderer.set_mirror(rotate == 2)
        self._show_change()

    # -- media, for either transport -----------------------------------------------------------

    def make_track(self) -> OutputTrack:
        """The session's output: the renderer's frames at the model's rate."""
        self.track = OutputTrack(
            self.renderer,
            self.latest,
            self.loudness,
            on_first_frame=self._on_first_frame,
            stall_after=self.faults.stall_video_after,
        )
        return self.track

    def drop_track(self) -> None:
        if self.track is not None:
            self.track.stop()
        self.track = None

    def _show_change(self) -> None:
        if self.track is not None:
            self.track.show_change()

    # -- generation ---------------------------------------------------------------------------

    def _on_first_frame(self) -> None:
        self._generation_start = time.monotonic()
        self.spawn(self._generation())

    async def _generation(self) -> None:
        await self.send({"type": "generation_started"})
        seconds = 0
        while True:
            await asyncio.sleep(1.0)
            seconds += 1
            await self.send({"type": "generation_tick", "seconds": seconds})

    def _generation_seconds(self) -> int:
        return int(time.monotonic() - self._generation_start) if self._generation_start else 0


_PEER_ONLY = ("switch_camera", "offer", "ice-candidate")  # 2025 messages: no place on today's channel


def _prompt_problem(prompt: str) -> str | None:
    if len(prompt) > MAX_PROMPT_CHARS:
        return f"prompt is longer than {MAX_PROMPT_CHARS} characters ({len(prompt)})"
    try:
        prompt.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate ("\\ud800") that JSON lets through
        return f"prompt is not valid text: a lone surrogate at character {exc.start}"
    return None



"""`RealtimeClient`: one live session with a Decart realtime service (PROTOCOL.md).

Two loops. The WebSocket, the acks and every user callback live on the caller's loop, so the show
engine writes a cue the moment it is due. The peer connection, the local track's `recv`, the
remote-track pumps and the frame sinks live on a `MediaLoop` thread, because aiortc holds its loop
for milliseconds at a time. Crossing between them is always `call_soon_threadsafe` or
`MediaLoop.run`; no object is touched from both threads except under a lock.

Two protocols (PROTOCOL.md). Peer-to-peer, 2025 (0.0.40 Python SDK): open the WebSocket, send
exactly one initial-state message and wait for its ack, then peer connection, offer, answer.
live_avatar follows 0.0.37: the portrait and prompt in one `set_image`, then an offer with video
recvonly and audio sendrecv. LiveKit, today's (0.2.4 Python SDK): `livekit_join`, wait for the room
(queue positions meanwhile), the initial state, join the room and publish, then passthrough when
there was no initial state. The control channel is the same JSON in both; only the media differs
(`livekit_media.py`).
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import aiohttp
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.sdp import candidate_from_sdp

from decart_flow.realtime import messages
from decart_flow.realtime.audio import AvatarAudioTrack, decode_clip_async
from decart_flow.realtime.errors import (
    DecartSDKError,
    InvalidAPIKeyError,
    InvalidInputError,
    NotConnectedError,
    WebRTCError,
    from_service,
    is_permanent,
)
from decart_flow.realtime.images import image_to_base64
from decart_flow.realtime.livekit_media import LiveKitMedia
from decart_flow.realtime.loopback import loopback_candidates
from decart_flow.realtime.memory import trim
from decart_flow.realtime.media_loop import MediaLoop, wake
from decart_flow.realtime.models import ModelDefinition, realtime
from decart_flow.realtime.session import AudioInput, ConnectionState, ImageInput
from decart_flow.realtime.tracks import FrameSink, HoppingTrack, pump
from decart_flow.realtime.types import ModelState, Prompt, RealtimeConnectOptions
from decart_flow.realtime.urls import is_loopback, redact_url, stream_url, with_api_key

log = logging.getLogger(__name__)

PROMPT_TIMEOUT_S = 15.0
IMAGE_TIMEOUT_S = 30.0
MAX_RETRY_DELAY_S = 10.0
CONNECT_TIMEOUT_S = 15.0  # TCP + TLS + upgrade of one attempt
WS_CLOSE_TIMEOUT_S = 1.0
# Past this many failed tries in a row, only every LOG_EVERY-th is logged (a week's outage is 60k).
QUIET_AFTER, LOG_EVERY = 10, 30
EVENTS = ("connection_change", "error", "generation_tick", "sent", "ack")
# Delivered only after connect() returns, so a caller can subscribe first (as the SDK does).
BUFFERED_EVENTS = ("connection_change", "error", "generation_tick")
ROOM_INFO_TIMEOUT_S = 15.0  # from `livekit_join`, or from the last queue position, to the room
PROTOCOLS = ("livekit", "p2p")


@dataclass(frozen=True)
class GenerationTick:
    seconds: float
    type: str = "generation_tick"


@dataclass(frozen=True)
class QueuePosition:
    """Over capacity: this session waits at `position` of `queue_size` (today's protocol)."""

    position: int
    queue_size: int
    type: str = "queue_position"


@dataclass
class _Pending:
    """A prompt or set_image waiting for its ack."""

    kind: str
    future: asyncio.Future[tuple[bool, str | None]]
    sent_ns: int = 0


@dataclass
class _Wire:
    """Everything one connection attempt opens; torn down as a whole."""

    http: aiohttp.ClientSession
    ws: aiohttp.ClientWebSocketResponse | None = None
    reader: asyncio.Task[None] | None = None
    pc: RTCPeerConnection | None = None
    answer: asyncio.Future[str] | None = None
    early_candidates: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    closed: bool = False
    media_up: bool = False  # the peer connection reached `connected`
    generating: bool = False  # the service sent `generation_started`
    watchdog: asyncio.Task[None] | None = None
    room: LiveKitMedia | None = None  # today's protocol: the media half
    room_info: dict[str, Any] | None = None


class RealtimeClient:
    """A live session; build it with `await RealtimeClient.connect(...)`."""

    def __init__(
        self,
        url: str,
        model: ModelDefinition,
        local_track: MediaStreamTrack | None,
        options: RealtimeConnectOptions,
        protocol: str = "p2p",
    ) -> None:
        self._url = url
        self._model = model
        self.protocol = protocol  # "livekit" (today's) or "p2p" (2025)
        self._options = options
        self._loop = asyncio.get_running_loop()
        self._loopback = is_loopback(url)
        self._ice_servers = [] if self._loopback else list(options.ice_servers or [])
        self._audio_track = AvatarAudioTrack() if model.is_avatar and local_track is None else None
        self._local_track = local_track or self._audio_track
        self._media = MediaLoop(f"decart-media-{model.name}")
        self._wire: _Wire | None = None
        self._state: ConnectionState = "disconnected"
        self._has_connected = False
        self._closing = False
        self._reconnect_task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._callbacks: dict[str, list[Callable[..., None]]] = {e: [] for e in EVENTS}
        self._buffer: list[tuple[str, tuple[Any, ...]]] | None = []
        self._pending_prompts: dict[str, collections.deque[_Pending]] = {}
        self._pending_images: collections.deque[_Pending] = collections.deque()
        self._sinks: tuple[FrameSink, ...] = ()
        self._pumps: set[asyncio.Task[None]] = set()  # media loop tasks
        self._remote_tracks: list[HoppingTrack] = []
        self._expected_stamp = 0
        self._queue_seen = 0  # queue_position messages so far: each one restarts the wait for a room
        self.suspended = False  # closed by opening hours: sends are kept for resume()
        self.connect_lead_s = 5.0  # from starting a connection to generation, measured each time
        self._connect_started: float | None = None
        self._last_frame = 0.0  # time.monotonic() of the newest video frame; the stall watchdog reads it
        # What the service should be showing: replayed as the initial state after a reconnect.
        self._current = options.initial_state or ModelState()
        self._current_image_b64: str | None = None
        self.session_id: str | None = None
        self.server_address: tuple[str, int] | None = None

    # ------------------------------------------------------------------ connect

    @classmethod
    async def connect(
        cls,
        base_url: str,
        api_key: str | None,
        local_track: MediaStreamTrack | None,
        options: RealtimeConnectOptions,
        suspended: bool = False,
    ) -> "RealtimeClient":
        """Open a session; transient failures are retried with backoff, a refused key is not.

        `suspended`: check everything but do not connect yet; `resume()` connects (opening hours)."""
        if not api_key:
            raise InvalidAPIKeyError()
        model = options.model if isinstance(options.model, ModelDefinition) else realtime(options.model)
        state = options.initial_state or ModelState()
        if model.is_avatar and state.image is None:
            raise InvalidInputError(f"{model.name} needs initial_state=ModelState(image=PORTRAIT)")
        if not model.is_avatar and local_track is None:
            raise InvalidInputError(f"{model.name} transforms a video: pass a local video track")
        if state.prompt is not None and not state.prompt.text.strip():
            raise InvalidInputError("initial prompt is empty")
        if options.max_attempts < 1:
            raise InvalidInputError("max_attempts must be at least 1")
        protocol = options.protocol or default_protocol(model, base_url)
        if protocol not in PROTOCOLS:
            raise InvalidInputError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
        if protocol == "livekit" and model.is_avatar:
            raise InvalidInputError(f"{model.name} is a 2025 model: it has no LiveKit protocol (use protocol='p2p')")
        problem = model.option_problem(options.resolution, options.speed)
        if problem:
            raise InvalidInputError(problem)
        try:
            url = stream_url(base_url, model.url_path, api_key, model.name, options.resolution,
                             livekit=protocol == "livekit", speed=options.speed)
        except ValueError as exc:
            raise InvalidInputError(str(exc)) from None
        client = cls(url, model, local_track, options, protocol)
        try:
            client._current_image_b64 = await image_to_base64(state.image)
            if suspended:
                client.suspended = True
                client._loop.call_soon(client._flush)
                return client
            await client._connect_with_retry(options.max_attempts)
        except BaseException:
            await client._shutdown()
            raise
        client._loop.call_soon(client._flush)
        return client

    async def _connect_with_retry(self, attempts: int | None) -> None:
        """Try until connected; `attempts` None = until a permanent error or `disconnect()`."""
        attempt = 0
        while True:
            attempt += 1
            try:
                await self._attempt()
                return
            except asyncio.CancelledError:
                await self._close_wire()
                raise
            except Exception as exc:  # classified below: permanent ones end here
                error = await self._failure(exc)
                await self._close_wire()
                full = "capacity" in str(error).lower()  # "Server at capacity": wait for a slot, however long
                if is_permanent(error) or (attempt == attempts and not full) or self._closing:
                    # Not chained: aiohttp's errors quote the URL, and with it the key.
                    raise error from None
                delay = backoff_delay(attempt, self._options.retry_delay)
                if attempt <= QUIET_AFTER or attempt % LOG_EVERY == 0:
                    log.warning(
                        "connect to %s failed (attempt %d/%s): %s; retrying in %.1f s",
                        redact_url(self._url), attempt, attempts or "unlimited", error, delay,
                    )
                await asyncio.sleep(delay)

    async def _failure(self, exc: Exception) -> DecartSDKError:
        """What an attempt's failure means, reading the service's own `error` first if it sent one."""
        wire = self._wire
        if wire is not None and wire.reader is not None and wire.error is None:
            # The service may have sent `error` and closed just before our write failed.
            await asyncio.wait([wire.reader], timeout=0.5)
        if wire is not None and wire.error is not None:
            return from_service(wire.error)
        if isinstance(exc, DecartSDKError):
            return exc
        if isinstance(exc, aiohttp.WSServerHandshakeError) and exc.status in (401, 403):
            return InvalidAPIKeyError(f"service refused the key (HTTP {exc.status})")
        if isinstance(exc, aiohttp.WSServerHandshakeError) and exc.status in (404, 405):
            # No stream here: retrying cannot help. Give the service's base URL, not a page of it.
            where = redact_url(self._url.split("?", 1)[0])
            return InvalidInputError(f"no realtime service at {where} (HTTP {exc.status}): give the service's base "
                                     "URL, such as ws://HOST:PORT")
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        keeps_url = isinstance(exc, aiohttp.ClientResponseError)
        return WebRTCError(redact_url(text), cause=None if keeps_url else exc)

    async def _attempt(self) -> None:
        if self._state != "reconnecting":
            self._set_state("connecting")
        self._connect_started = time.monotonic()
        self._expected_stamp = 0
        self.session_id = None
        http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, connect=CONNECT_TIMEOUT_S))
        wire = self._wire = _Wire(http=http)
        log.info("connecting to %s", redact_url(self._url))
        # A busy service may never answer our close frame: wait a second, not aiohttp's ten, so
        # a Ctrl-C while an ack is pending still ends the run at once.
        close_timeout = aiohttp.ClientWSTimeout(ws_close=WS_CLOSE_TIMEOUT_S)
        wire.ws = await http.ws_connect(self._url, autoping=True, timeout=close_timeout)
        wire.reader = asyncio.create_task(self._read(wire), name="decart-ws-reader")
        sent = (self._current, self._current_image_b64)
        if self.protocol == "livekit":
            await self._open_room(wire)
        else:
            await self._send_initial_state()
            self._media.start()
            wire.answer = self._loop.create_future()
            sdp = await self._media.run(self._open_peer_connection(wire))
            await self._send(messages.offer(sdp))
            answer = wire.answer
            await self._wait(answer.done, self._options.connect_timeout, "answer")
            await self._media.run(self._accept_answer(wire, answer.result()))
        await self._wait(lambda: wire.media_up or wire.generating, self._options.connect_timeout, "media")
        # The state goes `connected` only once what should show is applied: the mirror, and
        # anything asked for while this attempt was under way (the latest asked-for state wins).
        mirrored = False  # a new session starts unmirrored
        while True:
            if self._current.mirror != mirrored:
                mirrored = self._current.mirror
                await self._apply_mirror(mirrored)
            elif sent[0].prompt != self._current.prompt or sent[1] is not self._current_image_b64:
                sent = (self._current, self._current_image_b64)
                await self._send_initial_state()
            else:
                break
        self._set_state("generating" if wire.generating else "connected")
        self._has_connected = True
        self._last_frame = time.monotonic()
        if self._options.stall_timeout is not None:
            wire.watchdog = self._loop.create_task(self._watch_video(wire, self._options.stall_timeout))
        log.info("session %s connected (%s)", self.session_id, self._model.name)

    async def _open_room(self, wire: _Wire) -> None:
        """Today's protocol: a room (after any queue), the initial state, then join and publish."""
        await self._send(messages.livekit_join())
        await self._wait_room_info(wire)
        info = wire.room_info
        assert info is not None
        self.session_id = info.get("session_id") or info["room_name"]
        has_state = self._current.prompt is not None or self._current_image_b64 is not None
        if has_state:
            await self._send_initial_state()
        self._media.start()
        width, height = self._model.size_at(self._options.resolution)
        wire.room = LiveKitMedia(
            self._local_track if not self._model.is_avatar else None,
            width, height,
            on_remote=self._on_track,
            on_lost=lambda reason: wake(self._loop, self._on_room_lost, wire, reason),
            on_state=lambda state: wake(self._loop, self._on_room_state, wire, state),
        )
        await self._media.run(wire.room.join(info["livekit_url"], info["token"], self._options.connect_timeout))
        wire.media_up = True
        if not has_state:  # passthrough, once our video is in the room (as the 0.2.4 SDK does)
            await self._send_initial_state()

    async def _wait_room_info(self, wire: _Wire) -> None:
        """Until `livekit_room_info`: a queue position restarts the wait, as the queue moves."""
        while wire.room_info is None:
            seen = self._queue_seen
            try:
                await self._wait(lambda: wire.room_info is not None or self._queue_seen != seen,
                                 ROOM_INFO_TIMEOUT_S, "room (livekit_room_info)")
            except WebRTCError:
                if self._queue_seen == seen:
                    raise

    def _on_room_state(self, wire: _Wire, state: str) -> None:
        """The room recovering on its own (the control channel stays): shown as a reconnect."""
        if wire is not self._wire or not self._has_connected or self._closing:
            return
        if state == "reconnecting":
            self._set_state("reconnecting")
        elif self._state == "reconnecting":
            self._set_state("generating" if wire.generating else "connected")

    def _on_room_lost(self, wire: _Wire, reason: str) -> None:
        if wire is not self._wire:
            return
        wire.error = wire.error or reason
        self._notify()
        self._lost(reason)

    async def _apply_mirror(self, mirrored: bool) -> None:
        """2025: the service mirrors (`switch_camera`); today: our frames are flipped before sending."""
        wire = self._wire
        if self.protocol == "livekit":
            if wire is not None and wire.room is not None:
                wire.room.mirror = mirrored
            return
        await self._send(messages.switch_camera(mirrored))
        self._expected_stamp += 1

    async def _send_initial_state(self) -> None:
        """Exactly one message, then its ack: image (with any prompt), else prompt, else passthrough."""
        state = self._current
        prompt = state.prompt
        try:
            if self._current_image_b64 is not None or self._model.is_avatar:
                await self._request_image(
                    messages.set_image(
                        self._current_image_b64,
                        prompt.text if prompt else None,
                        prompt.enrich if prompt else None,
                    ),
                    IMAGE_TIMEOUT_S,
                )
            elif prompt is not None:
                await self._request_prompt(prompt.text, prompt.enrich)
            else:
                await self._request_image(messages.set_image(None), IMAGE_TIMEOUT_S)
        except DecartSDKError as exc:
            raise from_service(f"initial state refused: {exc}") if not is_permanent(exc) else exc

    async def _open_peer_connection(self, wire: _Wire) -> str:
        """Media loop: the peer connection with our tracks, and the offer SDP with its candidates."""
        pc = RTCPeerConnection(configuration=RTCConfiguration(iceServers=self._ice_servers))
        wire.pc = pc

        pc.on("track", self._on_track)

        @pc.on("connectionstatechange")
        def on_state() -> None:
            wake(self._loop, self._on_peer_state, wire, pc.connectionState)

        if self._model.is_avatar:
            pc.addTransceiver("video", direction="recvonly")
        assert self._local_track is not None
        pc.addTrack(self._local_track)
        offer = await pc.createOffer()
        with loopback_candidates(self._loopback):
            await pc.setLocalDescription(offer)
        return pc.localDescription.sdp

    def _on_track(self, track: MediaStreamTrack) -> None:
        """Media loop: a remote track of either protocol goes to the sinks and the user's loop."""
        proxy = HoppingTrack(track.kind, self._loop)
        task = asyncio.ensure_future(pump(track, proxy, lambda: self._sinks, self._saw_frame))
        self._pumps.add(task)
        task.add_done_callback(self._pumps.discard)
        wake(self._loop, self._deliver_track, proxy)

    async def _accept_answer(self, wire: _Wire, sdp: str) -> None:
        assert wire.pc is not None
        await wire.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
        for candidate in wire.early_candidates:
            await self._add_candidate(wire, candidate)
        wire.early_candidates.clear()

    async def _add_candidate(self, wire: _Wire, payload: dict[str, Any] | None) -> None:
        if wire.pc is None or not payload or not payload.get("candidate"):
            return
        if wire.pc.remoteDescription is None:
            wire.early_candidates.append(payload)
            return
        text = str(payload["candidate"])
        candidate = candidate_from_sdp(text.split(":", 1)[1] if text.startswith("candidate:") else text)
        candidate.sdpMid = payload.get("sdpMid")
        candidate.sdpMLineIndex = payload.get("sdpMLineIndex")
        await wire.pc.addIceCandidate(candidate)

    async def _wait(self, done: Callable[[], bool], timeout: float, what: str) -> None:
        """Wait until `done()`, failing early on a service error or a closed WebSocket."""
        deadline = self._loop.time() + timeout
        while not done():
            wire = self._wire
            if wire is None or wire.error is not None or wire.closed:
                reason = (wire.error if wire else None) or "WebSocket closed"
                raise from_service(reason)
            left = deadline - self._loop.time()
            if left <= 0:
                raise WebRTCError(f"no {what} from the service within {timeout:.0f} s")
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except asyncio.TimeoutError:
                pass

    def _notify(self) -> None:
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    # ------------------------------------------------------------------ receiving

    async def _read(self, wire: _Wire) -> None:
        assert wire.ws is not None
        try:
            async for msg in wire.ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    self._on_text(wire, msg.data)
                elif msg.type == aiohttp.WSMsgType.BINARY:
                    log.warning("skipping a binary frame from the service (%d bytes)", len(msg.data))
                elif msg.type == aiohttp.WSMsgType.ERROR:
                    log.warning("WebSocket error: %s", wire.ws.exception())
                    break
        except Exception:
            log.exception("WebSocket reader failed")
        finally:
            wire.closed = True
            self._fail_pending(wire.error or "WebSocket closed")
            self._notify()
            if wire is self._wire and not self._closing:
                self._lost(f"WebSocket closed: {wire.error or 'by the service'}")

    def _on_text(self, wire: _Wire, text: str) -> None:
        try:
            data = messages.parse(text)
        except messages.MalformedMessage as exc:
            log.warning("skipping a malformed message from the service: %s", exc)
            return
        try:
            self._dispatch(wire, data)
        except Exception:
            log.exception("error while handling a %r message; skipped", data.get("type"))

    def _dispatch(self, wire: _Wire, data: dict[str, Any]) -> None:
        kind = data["type"]
        if kind == "answer":
            if wire.answer is not None and not wire.answer.done():
                wire.answer.set_result(data["sdp"])
                self._notify()
            else:
                log.warning("ignoring an answer we did not ask for")
        elif kind == "prompt_ack":
            waiters = self._pending_prompts.get(data["prompt"])
            self._acked(waiters.popleft() if waiters else None, data["success"], data.get("error"), kind)
        elif kind == "set_image_ack":
            waiter = self._pending_images.popleft() if self._pending_images else None
            self._acked(waiter, data["success"], data.get("error"), kind)
        elif kind == "session_id":
            if self.protocol == "p2p":  # today's clients ignore it: the room names the session
                self.session_id = data["session_id"]
                self.server_address = (data["server_ip"], data["server_port"])
        elif kind == "generation_started":
            wire.generating = True
            if self._connect_started is not None:  # what opening hours add ahead of a window
                self.connect_lead_s = time.monotonic() - self._connect_started + 1.0
                self._connect_started = None
            if self._has_connected:
                self._set_state("generating")
            self._notify()
        elif kind == "generation_tick":
            self._emit("generation_tick", GenerationTick(seconds=data["seconds"]))
        elif kind == "generation_ended":
            log.info("generation ended after %ss (%s)", data.get("seconds"), data.get("reason"))
        elif kind == "livekit_room_info":
            if wire.room_info is None and self.protocol == "livekit":
                wire.room_info = data
                self._notify()
            else:
                log.warning("ignoring a livekit_room_info we did not ask for")
        elif kind == "queue_position":
            self._queue_seen += 1
            log.info("waiting for a slot: position %s of %s", data["position"], data["queue_size"])
            self._notify()
            if self._options.on_queue_position is not None:  # as it happens: connect() may be waiting
                try:
                    self._options.on_queue_position(QueuePosition(data["position"], data["queue_size"]))
                except Exception:
                    log.exception("on_queue_position callback failed")
        elif kind == "error":
            text = data["error"]
            log.error("service error: %s", text)
            if wire.error is None:
                wire.error = text
            self._fail_pending(text)
            self._emit("error", from_service(text))
            self._notify()
        elif kind == "ice-candidate":
            if self._media.running:
                self._media.submit(self._add_candidate(wire, data.get("candidate")))
        else:  # ready, ice-restart: only ever sent to renegotiating JS clients
            log.info("ignoring %r: this client does not renegotiate", kind)

    def _acked(self, waiter: _Pending | None, success: bool, error: str | None, kind: str) -> None:
        if success:
            self._expected_stamp += 1
        if waiter is None:
            log.info("%s with no request waiting for it (success=%s)", kind, success)
            return
        latency_ms = (time.perf_counter_ns() - waiter.sent_ns) / 1e6 if waiter.sent_ns else float("nan")
        if not waiter.future.done():
            waiter.future.set_result((success, error))
        self._emit("ack", kind, success, latency_ms, error)

    def _fail_pending(self, text: str) -> None:
        for waiters in self._pending_prompts.values():
            for waiter in waiters:
                if not waiter.future.done():
                    waiter.future.set_result((False, text))
        for waiter in self._pending_images:
            if not waiter.future.done():
                waiter.future.set_result((False, text))

    def _on_peer_state(self, wire: _Wire, state: str) -> None:
        if wire is not self._wire:
            return
        log.debug("peer connection %s", state)
        if state == "connected":
            wire.media_up = True
            if self._has_connected:  # else the attempt sets it once the state is applied
                self._set_state("connected")
        elif state in ("failed", "closed") and not self._closing:
            wire.error = wire.error or f"peer connection {state}"
            self._lost(f"peer connection {state}")
        self._notify()

    def _saw_frame(self) -> None:
        """Media thread, every video frame: a float store, read by the watchdog on the other loop."""
        self._last_frame = time.monotonic()

    async def _watch_video(self, wire: _Wire, timeout: float) -> None:
        """A WebSocket that stays up while no frame arrives is a dead session too: reconnect."""
        while wire is self._wire and not wire.closed:
            await asyncio.sleep(min(1.0, timeout / 4))
            silent = time.monotonic() - self._last_frame
            if silent >= timeout and wire is self._wire and not wire.closed:
                log.warning("no video from the service for %.1f s", silent)
                wire.error = wire.error or f"no video for {silent:.0f} s"
                self._lost(f"video stalled ({silent:.1f} s without a frame)")
                return

    def _deliver_track(self, proxy: HoppingTrack) -> None:
        if self._closing:
            proxy.end()
            return
        self._remote_tracks.append(proxy)
        if self._options.on_remote_stream is not None:
            try:
                self._options.on_remote_stream(proxy)
            except Exception:
                log.exception("on_remote_stream callback failed")

    # ------------------------------------------------------------------ reconnect

    def _lost(self, reason: str) -> None:
        """The session dropped after it was up: reconnect with the current state, or give up."""
        if self._closing or not self._has_connected or self._reconnect_task is not None:
            return
        if not self._options.reconnect:
            self._set_state("disconnected")
            self._emit("error", WebRTCError(reason))
            return
        log.warning("session lost (%s); reconnecting", reason)
        self._reconnect_task = self._loop.create_task(self._reconnect(), name="decart-reconnect")

    async def _reconnect(self) -> None:
        self._has_connected = False
        self._set_state("reconnecting")
        try:
            await self._close_wire()
            await asyncio.to_thread(trim)  # the old session's codec buffers go back to the OS
            await self._connect_with_retry(self._options.reconnect_attempts)
        except asyncio.CancelledError:
            raise
        except DecartSDKError as exc:
            # One clear line: a refused key (permanent) or the attempts ran out.
            why = "the service refused the key" if isinstance(exc, InvalidAPIKeyError) else "giving up"
            log.error("reconnect failed (%s): %s", why, exc)
            self._set_state("disconnected")
            if isinstance(exc, (InvalidAPIKeyError, WebRTCError)):
                exc = type(exc)(f"reconnect failed ({why}): {exc}")
            self._emit("error", exc)
        finally:
            self._reconnect_task = None

    # ------------------------------------------------------------------ sending

    async def _send(self, message: dict[str, Any]) -> int:
        wire = self._wire
        if wire is None or wire.ws is None or wire.ws.closed or wire.closed:
            raise NotConnectedError(f"not connected (state {self._state})")
        await wire.ws.send_str(json.dumps(message))
        t_ns = time.perf_counter_ns()
        self._emit("sent", message, t_ns)
        return t_ns

    async def _request(self, message: dict[str, Any], waiter: _Pending, timeout: float) -> None:
        try:
            waiter.sent_ns = await self._send(message)
            try:
                success, error = await asyncio.wait_for(asyncio.shield(waiter.future), timeout)
            except asyncio.TimeoutError:
                raise DecartSDKError(f"{message['type']} acknowledgment timed out after {timeout:.0f} s") from None
        finally:
            waiter.future.cancel()  # a late ack finds it done and only counts the stamp
        if not success:
            refused = from_service(error or "")
            if isinstance(refused, InvalidAPIKeyError):
                raise refused
            raise DecartSDKError(error or f"{message['type']} failed")

    async def _request_prompt(self, text: str, enrich: bool) -> None:
        waiter = _Pending("prompt", self._loop.create_future())
        queue = self._pending_prompts.setdefault(text, collections.deque())
        queue.append(waiter)
        try:
            await self._request(messages.prompt(text, enrich), waiter, PROMPT_TIMEOUT_S)
        finally:
            if waiter in queue:
                queue.remove(waiter)
            if not queue:
                self._pending_prompts.pop(text, None)

    async def _request_image(self, message: dict[str, Any], timeout: float) -> None:
        waiter = _Pending("set_image", self._loop.create_future())
        self._pending_images.append(waiter)
        try:
            await self._request(message, waiter, timeout)
        finally:
            if waiter in self._pending_images:
                self._pending_images.remove(waiter)

    # ------------------------------------------------------------------ the Session API

    async def set_prompt(self, text: str, enrich: bool = True) -> None:
        """Restyle with `text`; returns once the service acknowledged this exact text."""
        if not isinstance(text, str) or not text.strip():
            raise InvalidInputError("prompt cannot be empty")
        deferred = await self._deliver(lambda: self._request_prompt(text, enrich))
        self._current = ModelState(prompt=Prompt(text, enrich), mirror=self._current.mirror)
        if not self._model.is_avatar:
            self._current_image_b64 = None
        self._raise_if_deferred(deferred)

    async def set_image(self, image: ImageInput, prompt: str | None = None, enrich: bool = True) -> None:
        """Reference image (bytes, path, URL) or None for passthrough, with an optional prompt."""
        if prompt is not None and not prompt.strip():
            raise InvalidInputError("prompt cannot be empty (pass None for no prompt)")
        if self._state != "reconnecting" and not self.suspended:
            self._require_connected()
        wire = self._wire
        image_b64 = await image_to_base64(image, wire.http if wire else None)
        message = messages.set_image(image_b64, prompt, enrich if prompt is not None else None)
        deferred = await self._deliver(lambda: self._request_image(message, IMAGE_TIMEOUT_S))
        self._current_image_b64 = image_b64
        self._current = ModelState(
            prompt=Prompt(prompt, enrich) if prompt is not None else (self._current.prompt if image_b64 else None),
            mirror=self._current.mirror,
        )
        self._raise_if_deferred(deferred)

    async def set_mirror(self, enabled: bool) -> None:
        """Mirror on or off (`switch_camera`); the service does not acknowledge it."""
        if self._state == "reconnecting" or self.suspended:
            self._current = ModelState(prompt=self._current.prompt, mirror=bool(enabled))
            self._raise_if_deferred(True)
        self._require_connected()
        await self._apply_mirror(bool(enabled))
        self._current = ModelState(prompt=self._current.prompt, mirror=bool(enabled))

    async def _deliver(self, request: Callable[[], Any]) -> bool:
        """Send now; True when it is left for the next session instead (so the latest state wins).

        That is while reconnecting (the initial state must go out alone), and when the session
        drops before the ack came: the caller still gets an error, and the state is remembered.
        """
        if self._state == "reconnecting" or self.suspended:
            return True
        self._require_connected()
        wire = self._wire
        try:
            await request()
        except DecartSDKError:
            if wire is not None and wire.closed and not self._closing and self._reconnect_task is not None:
                return True
            raise
        return False

    def _raise_if_deferred(self, deferred: bool) -> None:
        if deferred:
            raise NotConnectedError(
                f"not connected (state {self._state}); it will be applied when the session is back",
                deferred=True,
            )

    async def play_audio(self, audio: AudioInput) -> None:
        """live_avatar: speak a clip; returns when its last frame is sent (or a new clip replaced it)."""
        track = self._audio_track
        if track is None:
            raise InvalidInputError("play_audio needs a live_avatar session without a user audio track")
        self._require_connected()
        chunks = await decode_clip_async(audio)
        done: asyncio.Future[None] = self._loop.create_future()
        track.play(chunks, lambda: wake(self._loop, _resolve, done))
        await done

    async def suspend(self) -> None:
        """Disconnect until `resume()` (opening hours): nothing is billed, changes are kept."""
        if self.suspended or self._closing:
            return
        self.suspended = True
        task, self._reconnect_task = self._reconnect_task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._has_connected = False
        await self._close_wire()
        self._set_state("disconnected")
        log.info("session suspended (outside opening hours or over budget)")

    def resume(self) -> None:
        """Connect again with the state in effect, as after a drop (then the runner catches up)."""
        if not self.suspended or self._closing:
            return
        self.suspended = False
        log.info("session resuming")
        self._set_state("reconnecting")  # from now on a change is kept for the new session
        self._reconnect_task = self._loop.create_task(self._reconnect(), name="decart-resume")

    def _require_connected(self) -> None:
        if not self.is_connected():
            raise NotConnectedError(f"not connected (state {self._state})")

    def is_connected(self) -> bool:
        return self._state in ("connected", "generating")

    def get_connection_state(self) -> ConnectionState:
        return self._state

    @property
    def expected_stamp(self) -> int:
        """Accepted prompt/set_image acks plus switch_camera messages of this session so far."""
        return self._expected_stamp

    @property
    def current_state(self) -> ModelState:
        """What the service should be showing now (acknowledged changes; replayed after a reconnect)."""
        return self._current

    @property
    def model(self) -> ModelDefinition:
        return self._model

    @property
    def remote_tracks(self) -> list[HoppingTrack]:
        return list(self._remote_tracks)

    def add_frame_sink(self, sink: FrameSink) -> None:
        """`sink(av.VideoFrame)` on the media thread for every received frame; keep it quick."""
        self._sinks = (*self._sinks, sink)

    def remove_frame_sink(self, sink: FrameSink) -> None:
        self._sinks = tuple(s for s in self._sinks if s is not sink)

    def on(self, event: str, callback: Callable[..., None]) -> None:
        if event not in self._callbacks:
            raise InvalidInputError(f"unknown event {event!r}; events: {', '.join(EVENTS)}")
        self._callbacks[event].append(callback)

    def off(self, event: str, callback: Callable[..., None]) -> None:
        if callback in self._callbacks.get(event, []):
            self._callbacks[event].remove(callback)

    def set_api_key(self, api_key: str) -> None:
        """The key the next connections use (a reconnect, a resume): a client token refreshed before it
        expires. The live connection goes on; a token only stops new ones."""
        if not api_key:
            raise InvalidAPIKeyError()
        self._url = with_api_key(self._url, api_key)

    async def disconnect(self) -> None:
        """End the session and release everything: tasks, the media thread, sockets."""
        await self._shutdown()

    # ------------------------------------------------------------------ events and state

    def _set_state(self, state: ConnectionState) -> None:
        # `generating` is sticky until the session is lost (as in the SDKs).
        if self._state == "generating" and state == "connected":
            return
        if state != self._state:
            self._state = state
            self._emit("connection_change", state)

    def _emit(self, event: str, *args: Any) -> None:
        if self._buffer is not None and event in BUFFERED_EVENTS:
            self._buffer.append((event, args))
            return
        for callback in list(self._callbacks[event]):
            try:
                callback(*args)
            except Exception:
                log.exception("%s callback failed", event)

    def _flush(self) -> None:
        buffered, self._buffer = self._buffer or [], None
        for event, args in buffered:
            self._emit(event, *args)

    # ------------------------------------------------------------------ teardown

    async def _close_wire(self) -> None:
        wire, self._wire = self._wire, None
        if wire is None:
            return
        wire.closed = True
        for media in (wire.room, wire.pc):
            if media is not None and self._media.running:
                try:
                    await self._media.run(self._close_media(media))
                except Exception:
                    log.exception("closing the media (%s) failed", type(media).__name__)
        if wire.ws is not None:
            await wire.ws.close()
        if wire.watchdog is not None and wire.watchdog is not asyncio.current_task():
            wire.watchdog.cancel()
        if wire.reader is not None:
            wire.reader.cancel()
            await asyncio.gather(wire.reader, return_exceptions=True)
        await wire.http.close()
        self._fail_pending("session closed")
        # The old session's tracks are over: a reader gets MediaStreamError, and the frames they
        # still buffer go now (kept across weeks of reconnects, they were megabytes each time).
        old, self._remote_tracks = self._remote_tracks, []
        for proxy in old:
            proxy.end(drop_buffered=True)

    async def _close_media(self, media: RTCPeerConnection | LiveKitMedia) -> None:
        """Media loop: a peer connection (2025) or a room (today's) closes, then its frame pumps end."""
        await media.close()
        pumps = list(self._pumps)
        for task in pumps:
            task.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)

    async def _shutdown(self) -> None:
        self._closing = True
        task, self._reconnect_task = self._reconnect_task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self._close_wire()
        if self._audio_track is not None:
            self._audio_track.stop()
        self._media.stop()
        for proxy in self._remote_tracks:
            proxy.end()
        if self._buffer is not None:
            self._buffer = None
        self._set_state("disconnected")


def default_protocol(model: ModelDefinition, base_url: str) -> str:
    """LiveKit for a model of today off this machine; peer-to-peer for 2025 models and on loopback.

    LiveKit's clients gather no ICE candidates on a loopback interface (PROTOCOL.md), so a service
    on this machine keeps media on 127.0.0.1 with the peer-to-peer protocol.
    """
    return "livekit" if model.era == 2026 and not is_loopback(base_url) else "p2p"


def backoff_delay(attempt: int, base: float) -> float:
    """Seconds to wait after failed try `attempt` (1, 2, ...): doubling from `base`, capped at 10 s."""
    return min(base * 2.0 ** min(attempt - 1, 32), MAX_RETRY_DELAY_S)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)

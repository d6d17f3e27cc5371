"""One participant's signal connection and its peer connection(s), in either LiveKit mode.

Single peer connection (`/rtc/v1`, what both clients try first): the client's join request carries
its first offer (`publisher_offer`): one peer connection with receive slots (3 audio, 3 video)
and its data channels. We answer it with the rendered video on the first video slot, every other
slot inactive, and `mid_to_track_id` naming our track: the clients ignore msid track ids and drop
a track the map does not name.

Two peer connections (`/rtc`, the clients' older mode): the client offers on its publisher
connection, and we offer the rendered video on a subscriber connection of ours (the join says
`subscriber_primary`), which the client answers; trickled candidates name their connection.

Either way our candidates sit in our SDP, on the address the service listens on; pings are
answered with pongs, `add_track` with a `TrackPublishedResponse`, each re-offer with an answer.

A malformed message is logged and skipped; the socket closing ends the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

import aiohttp
from aiohttp import web
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from google.protobuf.message import DecodeError
from livekit.protocol import models, rtc

from decart_flow.realtime import jitter
from decart_flow.realtime.loopback import gathering_on
from decart_flow.service.livekit.negotiation import livekit_negotiation
from decart_flow.service.livekit.room import Room, new_sid
from decart_flow.service.livekit.tokens import Grant
from decart_flow.service.loopback import add_candidate
from decart_flow.service.peer import vp8_first

log = logging.getLogger(__name__)

SERVER_VERSION = "1.9.0"  # the LiveKit server release whose protocol this follows
SERVER_PROTOCOL = 16
PING_INTERVAL = 5
PING_TIMEOUT = 15


class ParticipantConnection:
    """A client's (or viewer's) WebSocket plus its peer connection, inside one room."""

    def __init__(self, ws: web.WebSocketResponse, room: Room, grant: Grant, host: str, pcs: set[RTCPeerConnection],
                 drop_after: float | None = None, dual: bool = False) -> None:
        self.ws = ws
        self.room = room
        self.grant = grant
        self.identity = grant.identity
        self.sid = new_sid("PA_")
        self.joined = time.time()
        self._host = host
        self._pcs = pcs
        self._drop_after = drop_after
        self.pc: RTCPeerConnection | None = None  # the client's publisher (v1: the only one)
        self.dual = dual
        self.subscriber: RTCPeerConnection | None = None  # v0: ours, carrying the rendered video
        self._published: dict[str, models.TrackInfo] = {}  # cid -> the track we told it about
        self._output_mid: str | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._lock = asyncio.Lock()  # one offer/answer at a time
        self._closed = False
        self._last_heard = time.monotonic()

    @property
    def tag(self) -> str:
        return f"{self.room.name[-6:]}/{self.identity[:20]}"

    # -- lifetime -----------------------------------------------------------------------------

    async def run(self, join: rtc.JoinRequest) -> None:
        self.room.add(self)
        if self._drop_after is not None:
            self._spawn(self._drop(self._drop_after))
        self._spawn(self._watch_pings())
        try:
            offer = join.publisher_offer if join.HasField("publisher_offer") else None
            await self._send(rtc.SignalResponse(join=self._join_response()))
            try:
                if offer is not None and offer.sdp:
                    await self._on_offer(offer)
                if self.dual and self.grant.can_subscribe:
                    await self._offer_subscriber()
            except Exception:  # our bug or SDP aiortc cannot take: logged; the client times out and retries
                log.exception("livekit %s: could not negotiate on joining", self.tag)
            async for msg in self.ws:
                if msg.type == aiohttp.WSMsgType.BINARY:
                    await self._on_binary(msg.data)
                elif msg.type == aiohttp.WSMsgType.TEXT:
                    log.warning("livekit %s: skipped a text frame (signalling is binary protobuf)", self.tag)
                elif msg.type == aiohttp.WSMsgType.ERROR:
                    log.warning("livekit %s: websocket error: %s", self.tag, self.ws.exception())
                    break
                await asyncio.sleep(0)  # one message, then other sessions' turn (as signaling.py)
        finally:
            await self._finish()

    async def close(self, reason: int = models.DisconnectReason.ROOM_DELETED) -> None:
        """The server ends this participant: a leave it must not retry, then close."""
        if not self.ws.closed:
            with contextlib.suppress(Exception):
                leave = rtc.LeaveRequest(can_reconnect=False, reason=reason, action=rtc.LeaveRequest.Action.DISCONNECT)
                await self._send(rtc.SignalResponse(leave=leave))
            await self.ws.close()
        await self._finish()

    def replaced(self) -> None:
        """The same identity joined again (a full reconnect): this connection is over."""
        self._spawn(self._finish())

    async def _finish(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.room.remove(self)
        for task in list(self._tasks):
            if task is not asyncio.current_task():
                task.cancel()
        await self._close_pcs()
        if not self.ws.closed:
            await self.ws.close()
        log.info("livekit %s: left", self.tag)

    async def _close_pcs(self) -> None:
        for pc in (self.pc, self.subscriber):
            if pc is not None:
                self._pcs.discard(pc)
                await pc.close()
        self.pc = self.subscriber = None

    async def _drop(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        log.info("fault: dropping the LiveKit connection of %s", self.tag)
        await self.ws.close(code=aiohttp.WSCloseCode.GOING_AWAY)
        await self._close_pcs()

    async def _watch_pings(self) -> None:
        """A client silent for ping_timeout is gone (as a LiveKit server judges): close its connection."""
        while not self.ws.closed:
            await asyncio.sleep(PING_INTERVAL)
            if time.monotonic() - self._last_heard > PING_TIMEOUT:
                log.info("livekit %s: nothing heard for %d s; closing", self.tag, PING_TIMEOUT)
                await self.ws.close(code=aiohttp.WSCloseCode.GOING_AWAY)
                return

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, response: rtc.SignalResponse) -> None:
        if not self.ws.closed:
            await self.ws.send_bytes(response.SerializeToString())

    # -- what the client is told on joining ---------------------------------------------------

    def _join_response(self) -> rtc.JoinResponse:
        g = self.grant
        me = models.ParticipantInfo(
            sid=self.sid,
            identity=self.identity,
            name=g.name or self.identity,
            state=models.ParticipantInfo.State.JOINED,
            joined_at=int(self.joined),
            joined_at_ms=int(self.joined * 1000),
            is_publisher=g.can_publish,
            kind=models.ParticipantInfo.Kind.STANDARD,
            permission=models.ParticipantPermission(can_publish=g.can_publish, can_subscribe=g.can_subscribe,
                                                    can_publish_data=g.can_publish),
        )
        others = [self.room.inference_participant()] if g.can_subscribe else []
        return rtc.JoinResponse(
            room=self.room.info(),
            participant=me,
            other_participants=others,
            server_version=SERVER_VERSION,
            server_info=models.ServerInfo(edition=models.ServerInfo.Edition.Standard, version=SERVER_VERSION,
                                          protocol=SERVER_PROTOCOL, node_id="decart-flow"),
            ping_timeout=PING_TIMEOUT,
            ping_interval=PING_INTERVAL,
            subscriber_primary=self.dual and g.can_subscribe,
        )

    # -- messages -----------------------------------------------------------------------------

    async def _on_binary(self, data: bytes) -> None:
        self._last_heard = time.monotonic()
        request = rtc.SignalRequest()
        try:
            request.ParseFromString(data)
        except DecodeError:
            log.warning("livekit %s: skipped a message that is not a SignalRequest", self.tag)
            return
        kind = request.WhichOneof("message")
        handler = {
            "ping_req": self._on_ping_req,
            "ping": self._on_ping,
            "offer": lambda r: self._on_offer(r.offer),
            "answer": self._on_answer,
            "trickle": self._on_trickle,
            "add_track": self._on_add_track,
            "leave": self._on_leave,
        }.get(kind or "")
        if handler is None:
            log.debug("livekit %s: ignored %s", self.tag, kind)
            return
        try:
            await handler(request)
        except Exception:
            log.exception("livekit %s: failed to handle %s", self.tag, kind)

    async def _on_ping_req(self, request: rtc.SignalRequest) -> None:
        pong = rtc.Pong(last_ping_timestamp=request.ping_req.timestamp, timestamp=int(time.time() * 1000))
        await self._send(rtc.SignalResponse(pong_resp=pong))

    async def _on_ping(self, request: rtc.SignalRequest) -> None:
        await self._send(rtc.SignalResponse(pong=int(time.time() * 1000)))

    async def _on_leave(self, request: rtc.SignalRequest) -> None:
        log.info("livekit %s: leave", self.tag)
        await self.ws.close()

    async def _on_answer(self, request: rtc.SignalRequest) -> None:
        if self.subscriber is None:
            log.warning("livekit %s: skipped an answer to no offer of ours", self.tag)
            return
        await self.subscriber.setRemoteDescription(RTCSessionDescription(sdp=request.answer.sdp, type="answer"))

    async def _on_add_track(self, request: rtc.SignalRequest) -> None:
        add = request.add_track
        if not self.grant.can_publish:
            log.warning("livekit %s: refused add_track: the token cannot publish", self.tag)
            return
        info = self._published.get(add.cid)
        if info is None:
            info = models.TrackInfo(
                sid=new_sid("TR_"), type=add.type, name=add.name, width=add.width, height=add.height,
                muted=add.muted, source=add.source, simulcast=False, stream=add.stream,
            )
            self._published[add.cid] = info
        await self._send(rtc.SignalResponse(track_published=rtc.TrackPublishedResponse(cid=add.cid, track=info)))

    async def _on_trickle(self, request: rtc.SignalRequest) -> None:
        trickle = request.trickle
        try:
            init = json.loads(trickle.candidateInit) if trickle.candidateInit else {}
        except (ValueError, RecursionError):
            log.warning("livekit %s: skipped a trickle that is not JSON", self.tag)
            return
        if not isinstance(init, dict):
            log.warning("livekit %s: skipped a trickle whose candidateInit is not a JSON object", self.tag)
            return
        pc = self.subscriber if trickle.target == rtc.SignalTarget.SUBSCRIBER else self.pc
        if pc is None or pc.remoteDescription is None:
            return
        line = str(init.get("candidate") or "").removeprefix("a=")
        if not line:
            if trickle.final:
                await pc.addIceCandidate(None)
            return
        await add_candidate(pc, line, init.get("sdpMid"), init.get("sdpMLineIndex"), f"livekit {self.tag}")

    # -- offer / answer -----------------------------------------------------------------------

    async def _on_offer(self, offer: rtc.SessionDescription) -> None:
        if not offer.sdp.strip():
            log.warning("livekit %s: skipped an offer without sdp", self.tag)
            return
        log.debug("livekit %s: offer %s\n%s", self.tag, offer.id, offer.sdp)
        async with self._lock:
            first = self.pc is None
            if first:
                self.pc = self._new_pc()
            pc = self.pc
            assert pc is not None
            with livekit_negotiation():
                await pc.setRemoteDescription(RTCSessionDescription(sdp=vp8_first(offer.sdp), type="offer"))
            if first and self.grant.can_subscribe and not self.dual:
                self._attach_output(pc)
            answer = await pc.createAnswer()
            with gathering_on(self._host):
                await pc.setLocalDescription(answer)
            mids = {self._output_mid: self.room.track_sid} if self._output_mid is not None and not self.dual else {}
            # Our candidates are in the SDP; the id pairs the answer with the offer it answers.
            log.debug("livekit %s: answer\n%s", self.tag, pc.localDescription.sdp)
            reply = rtc.SessionDescription(type="answer", sdp=pc.localDescription.sdp, id=offer.id, mid_to_track_id=mids)
            await self._send(rtc.SignalResponse(answer=reply))

    def _new_pc(self) -> RTCPeerConnection:
        jitter.install()
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self._pcs.add(pc)

        @pc.on("track")
        def on_track(track: Any) -> None:
            if track.kind == "video" and self.grant.can_publish:
                log.info("livekit %s: camera track arrived", self.tag)
                self.room.camera(track)

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            log.info("livekit %s: peer connection %s", self.tag, pc.connectionState)
            if pc.connectionState == "connected" and self._output_mid is not None:
                self.room.keyframe()
            if pc.connectionState == "failed":
                await pc.close()

        return pc

    def _attach_output(self, pc: RTCPeerConnection) -> None:
        """Our video on the first video slot the client offered to receive on."""
        track = self.room.subscribe_output()
        if track is None:
            return
        for transceiver in pc.getTransceivers():
            if transceiver.kind == "video" and transceiver.sender.track is None and \
                    transceiver._offerDirection in ("sendonly", "sendrecv"):  # aiortc keeps it from our side
                transceiver.sender.replaceTrack(track)
                transceiver.direction = "sendonly"
                self._output_mid = transceiver.mid
                self._name_output(transceiver)
                return
        log.warning("livekit %s: the offer has no video slot to receive on; nothing to subscribe", self.tag)

    def _name_output(self, transceiver: Any) -> None:
        """msid "PA_sid|TR_sid TR_sid" as a LiveKit server writes it; PLIs to our encoder."""
        sender, asked = transceiver.sender, transceiver.sender._send_keyframe
        sender._stream_id = f"{self.room.inference_sid}|{self.room.track_sid}"
        sender._track_id = self.room.track_sid

        def keyframe() -> None:  # our encoder makes the packets, so a receiver's PLI must reach it
            asked()
            self.room.keyframe()

        sender._send_keyframe = keyframe  # type: ignore[method-assign]

    async def _offer_subscriber(self) -> None:
        """Two peer connections: we offer the rendered video on a connection of our own."""
        track = self.room.subscribe_output()
        if track is None:
            return
        jitter.install()
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self._pcs.add(pc)
        self.subscriber = pc

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            log.info("livekit %s: subscriber connection %s", self.tag, pc.connectionState)
            if pc.connectionState == "connected":
                self.room.keyframe()
            if pc.connectionState == "failed":
                await pc.close()

        transceiver = pc.addTransceiver(track, direction="sendonly")
        vp8 = [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType.lower() in ("video/vp8", "video/rtx")]
        transceiver.setCodecPreferences(vp8)  # our encoder makes VP8
        self._name_output(transceiver)
        offer = await pc.createOffer()
        with gathering_on(self._host):
            await pc.setLocalDescription(offer)
        mids = {transceiver.mid: self.room.track_sid}
        log.debug("livekit %s: subscriber offer\n%s", self.tag, pc.localDescription.sdp)
        description = rtc.SessionDescription(type="offer", sdp=pc.localDescription.sdp, id=1, mid_to_track_id=mids)
        await self._send(rtc.SignalResponse(offer=description))

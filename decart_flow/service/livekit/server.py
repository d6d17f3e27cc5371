"""LiveKit's signalling endpoints on the service's own port: `/rtc/v1` (single peer connection).

Both LiveKit clients we serve (the Rust client in the `livekit` package, `livekit-client` 2.20 in
a browser) try `/rtc/v1?join_request=...` first: base64url of a `WrappedJoinRequest` (maybe
gzip) whose `JoinRequest` holds the client's first offer. The access token comes as the
`access_token` query parameter (browser) or an `Authorization: Bearer` header (Rust).

`/rtc` is the older mode with two peer connections (the clients' fallback when `/rtc/v1` answers
404, or their choice with single_peer_connection / singlePeerConnection off): the client info
comes as query parameters and we offer the video on a subscriber connection of our own.

A resume (`reconnect` set: keep the peer connection, restart ICE) is answered with a leave that
asks for a full reconnect, since aiortc cannot restart ICE; the clients then join afresh with a
new peer connection, which replaces the old one in the room.
"""

from __future__ import annotations

import base64
import binascii
import logging
import zlib
from typing import Callable

from aiohttp import web
from aiortc import RTCPeerConnection
from google.protobuf.message import DecodeError
from livekit.protocol import models, rtc

from decart_flow.service.livekit.connection import ParticipantConnection
from decart_flow.service.livekit.room import Room
from decart_flow.service.livekit.tokens import Grant, TokenError, TokenSigner

log = logging.getLogger(__name__)

MAX_JOIN_REQUEST = 256 * 1024
_URLSAFE = str.maketrans("-_", "+/")  # base64url, as both clients write it (browsers' btoa then swapped)


class JoinRequestError(ValueError):
    """A join_request parameter that does not decode."""


def decode_join_request(param: str) -> rtc.JoinRequest:
    """The JoinRequest inside a `join_request` query parameter."""
    if not param:
        raise JoinRequestError("join_request is missing (the /rtc/v1 path carries the JoinRequest there)")
    if len(param) > MAX_JOIN_REQUEST:
        raise JoinRequestError("join_request is too large")
    try:
        padded = param + "=" * (-len(param) % 4)
        raw = base64.b64decode(padded.translate(_URLSAFE), validate=True)
        wrapped = rtc.WrappedJoinRequest()
        wrapped.ParseFromString(raw)
        payload = wrapped.join_request
        if wrapped.compression == rtc.WrappedJoinRequest.Compression.GZIP:
            payload = _gunzip(payload)
        join = rtc.JoinRequest()
        join.ParseFromString(payload)
    except (binascii.Error, DecodeError, OSError, EOFError, zlib.error) as exc:
        raise JoinRequestError(f"join_request does not decode: {exc}") from None
    return join


def _gunzip(payload: bytes) -> bytes:
    """gzip data, inflated to at most MAX_JOIN_REQUEST: a 256 KB bomb would otherwise inflate to 250 MB."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    out = inflater.decompress(payload, MAX_JOIN_REQUEST)
    if inflater.unconsumed_tail:
        raise JoinRequestError(f"join_request inflates to more than {MAX_JOIN_REQUEST // 1024} KB")
    if not inflater.eof:
        raise EOFError("gzip data ends early")
    return out


def bearer(request: web.Request) -> str | None:
    token = request.query.get("access_token")
    if token:
        return token
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return None


class LiveKitServer:
    """Routes `/rtc`, `/rtc/v1` and `/rtc/validate` into the rooms of the service."""

    def __init__(self, signer: TokenSigner, rooms: dict[str, Room], host: str, pcs: set[RTCPeerConnection],
                 drop_after: Callable[[], float | None], zero_playout: bool = True) -> None:
        self.signer = signer
        self.zero_playout = zero_playout
        self.rooms = rooms
        self.host = host
        self.pcs = pcs
        self._drop_after = drop_after

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/rtc/v1", self.rtc_v1)
        app.router.add_get("/rtc", self.rtc_v0)
        app.router.add_get("/rtc/validate", self.validate)
        app.router.add_get("/rtc/v1/validate", self.validate)

    def _grant(self, request: web.Request) -> Grant:
        return self.signer.verify(bearer(request))

    async def validate(self, request: web.Request) -> web.Response:
        """What a client asks after a failed join, to show a clear reason."""
        try:
            grant = self._grant(request)
        except TokenError as exc:
            return web.Response(status=401, text=str(exc))
        if grant.room not in self.rooms:
            return web.Response(status=404, text=f"room {grant.room} is not live")
        return web.Response(text="success")

    async def rtc_v1(self, request: web.Request) -> web.StreamResponse:
        return await self._join(request, dual=False)

    async def rtc_v0(self, request: web.Request) -> web.StreamResponse:
        return await self._join(request, dual=True)

    async def _join(self, request: web.Request, dual: bool) -> web.StreamResponse:
        try:
            grant = self._grant(request)
        except TokenError as exc:
            log.info("livekit: refused a join: %s", exc)
            return web.Response(status=401, text=str(exc))
        if dual:  # v0: what v1 puts in the JoinRequest comes as query parameters
            join = rtc.JoinRequest(reconnect=request.query.get("reconnect") == "1",
                                   participant_sid=request.query.get("sid", ""))
        else:
            try:
                join = decode_join_request(request.query.get("join_request", ""))
            except JoinRequestError as exc:
                log.warning("livekit: refused a join: %s", exc)
                return web.Response(status=400, text=str(exc))
        ws = web.WebSocketResponse(heartbeat=None, max_msg_size=4 * 1024 * 1024)
        await ws.prepare(request)
        room = self.rooms.get(grant.room)
        if room is None or room.closed:
            log.info("livekit: a join for room %s, which is not live", grant.room[:40])
            await _leave(ws, models.DisconnectReason.ROOM_DELETED, rtc.LeaveRequest.Action.DISCONNECT)
            return ws
        if join.reconnect:
            log.info("livekit: %s asked to resume; asking for a full reconnect", grant.identity[:20])
            await _leave(ws, models.DisconnectReason.STATE_MISMATCH, rtc.LeaveRequest.Action.RECONNECT)
            return ws
        connection = ParticipantConnection(ws, room, grant, self.host, self.pcs, self._drop_after(), dual=dual,
                                           zero_playout=self.zero_playout)
        log.info("livekit %s: joined (%s, %s)", connection.tag, "publisher" if grant.can_publish else "viewer",
                 "two peer connections" if dual else "one peer connection")
        await connection.run(join)
        return ws


async def _leave(ws: web.WebSocketResponse, reason: int, action: int) -> None:
    leave = rtc.LeaveRequest(can_reconnect=action != rtc.LeaveRequest.Action.DISCONNECT, reason=reason, action=action)
    await ws.send_bytes(rtc.SignalResponse(leave=leave).SerializeToString())
    await ws.close()

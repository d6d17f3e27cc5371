"""Today's (2026) side of the service: rooms, their access tokens, capacity, viewers.

One per service. A control session asks it for a room once it holds a slot; the LiveKit
endpoints (service/livekit/server.py) find rooms here by the name in a client's token, and
`POST /watch-stream/{room}` mints subscribe-only tokens for a live room.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from decart_flow.service.livekit.room import Room, room_name
from decart_flow.service.livekit.tokens import Grant, TokenSigner
from decart_flow.service.queue import Slots

if TYPE_CHECKING:
    from decart_flow.service.signaling import StreamSession

log = logging.getLogger(__name__)


class Today:
    def __init__(self, capacity: int | None = None) -> None:
        self.signer = TokenSigner()
        self.rooms: dict[str, Room] = {}
        self.slots = Slots(capacity)
        self.livekit_url = ""  # ws://HOST:PORT, set once the service listens

    def open_room(self, session: StreamSession, on_camera: Callable[[Any], None]) -> Room:
        m = session.renderer.model
        room = Room(room_name(), session.id, m.width, m.height, on_camera=on_camera)
        self.rooms[room.name] = room
        log.info("session %s: room %s open (%dx%d)", session.id[:8], room.name, m.width, m.height)
        return room

    async def close_room(self, room: Room) -> None:
        self.rooms.pop(room.name, None)
        await room.close()

    def room_info(self, room: Room, session_id: str) -> dict:
        """`livekit_room_info` for the session's own client: it may publish and subscribe."""
        identity = "client-" + secrets.token_hex(4)
        token = self.signer.mint(Grant(identity=identity, room=room.name, can_publish=True, can_subscribe=True))
        return {"type": "livekit_room_info", "livekit_url": self.livekit_url, "token": token,
                "room_name": room.name, "session_id": session_id}

    def viewer_credentials(self, name: str) -> dict | None:
        """What `POST /watch-stream/{room}` answers for a live room (None: no such room)."""
        room = self.rooms.get(name)
        if room is None or room.closed:
            return None
        identity = "viewer-" + secrets.token_hex(4)
        token = self.signer.mint(Grant(identity=identity, room=room.name, can_publish=False, can_subscribe=True))
        return {"livekit_url": self.livekit_url, "token": token, "room_name": room.name, "session_id": room.session_id}

    async def hold_in_queue(self, seconds: float, notify: Callable[[int, int], Awaitable[None]]) -> None:
        """The `queue-for` fault: a full service, told as a place in line each second."""
        left = seconds
        while left > 0:
            await notify(1, 1)
            await asyncio.sleep(min(1.0, left))
            left -= 1.0

    async def stop(self) -> None:
        for room in list(self.rooms.values()):
            await self.close_room(room)

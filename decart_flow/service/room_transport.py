"""The 2026 transport of a session: a LiveKit room, asked for with `livekit_join`.

`livekit_join` (maybe with an `initial_state`, applied and acked first) -> a slot (with
`queue_position` while the service is full) -> a room whose inference participant publishes the
session's output track -> `livekit_room_info`. The client's camera arrives through the room and
feeds the session's renderer. Closing the session closes the room and frees the slot.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from decart_flow.service.tracks import read_video

if TYPE_CHECKING:
    from decart_flow.service.livekit.room import Room
    from decart_flow.service.signaling import StreamSession
    from decart_flow.service.today import Today

log = logging.getLogger(__name__)

Handler = Callable[[dict], Awaitable[None]]


class RoomTransport:
    """Today's media: the session's LiveKit room on this service."""

    idle = False

    def __init__(self, session: StreamSession, today: Today) -> None:
        self.session = session
        self.today = today
        self.room: Room | None = None
        self._joined = False
        self._holds_slot = False
        self.handlers: dict[str, Handler] = {"livekit_join": self._on_livekit_join}

    @property
    def started(self) -> bool:
        """Media asked for (`livekit_join` came): the connection is no longer idle."""
        return self._joined

    async def close(self) -> None:
        if self.room is not None:
            room, self.room = self.room, None
            await self.today.close_room(room)
        if self._holds_slot:
            self._holds_slot = False
            self.today.slots.release()

    async def _on_livekit_join(self, message: dict) -> None:
        session = self.session
        if self._joined:
            log.warning("session %s: skipped a second livekit_join", session.id[:8])
            return
        self._joined = True
        initial = message.get("initial_state")
        if initial is not None:
            # Applied and acked as if it had come on its own, before the room info.
            if isinstance(initial, dict) and initial.get("type") in ("prompt", "set_image"):
                await session.on_text(json.dumps(initial))
            else:
                log.warning("session %s: skipped an initial_state that is not a prompt or set_image", session.id[:8])
        session.spawn(self._join_room())

    async def _join_room(self) -> None:
        """Wait for a slot (telling the client its place in line), then open the room."""
        session = self.session
        await self.today.slots.acquire(self._queue_position)
        self._holds_slot = True
        if session.faults.queue_for:
            await self.today.hold_in_queue(session.faults.queue_for, self._queue_position)
        if session.ws.closed:
            return
        track = session.make_track()
        track.encode_vp8_here()  # LiveKit subscribers always get VP8 (livekit/connection.py)
        track.prepare_first_frame()
        self.room = self.today.open_room(session, self._camera)
        self.room.set_output(track)
        await session.send(self.today.room_info(self.room, session.id))

    async def _queue_position(self, position: int, size: int) -> None:
        await self.session.send({"type": "queue_position", "position": position, "queue_size": size})

    def _camera(self, track: Any) -> None:
        """The client's camera arrived through the room: it feeds the renderer as in 2025."""
        self.session.spawn(read_video(track, self.session.latest))

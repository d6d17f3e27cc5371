"""A room of one Decart session: the client, the inference participant's track, viewers.

The room does not render: the session (signaling.py) owns the renderer and the output track, and
the room relays that track to every peer connection that subscribes (the client's and each
viewer's), and hands the client's camera frames to the session. The inference participant has
no connection of its own: it is the service, announced to each client as a remote participant.
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import TYPE_CHECKING, Callable

from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamTrack
from livekit.protocol import models

if TYPE_CHECKING:
    from decart_flow.service.livekit.connection import ParticipantConnection

log = logging.getLogger(__name__)

INFERENCE_PREFIX = "inference-server-"
KEYFRAME_GAP = 0.25  # seconds


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(6)


class Room:
    """One LiveKit room: its name, the inference participant and the live connections."""

    def __init__(self, name: str, session_id: str, width: int, height: int, on_camera: Callable[[MediaStreamTrack], None]) -> None:
        self.name = name
        self.sid = new_sid("RM_")
        self.session_id = session_id
        self.created = time.time()
        self.width, self.height = width, height
        self.inference_sid = new_sid("PA_")
        self.inference_identity = INFERENCE_PREFIX + secrets.token_hex(4)
        self.track_sid = new_sid("TR_")
        self.connections: set[ParticipantConnection] = set()
        self.closed = False
        self._on_camera = on_camera
        self._relay = MediaRelay()
        self._output: MediaStreamTrack | None = None
        self._last_keyframe = 0.0

    # -- media --------------------------------------------------------------------------------

    def set_output(self, track: MediaStreamTrack) -> None:
        """The rendered video every subscriber receives."""
        self._output = track

    def subscribe_output(self) -> MediaStreamTrack | None:
        """A relay of the rendered video for one more peer connection (None before set_output)."""
        if self._output is None:
            return None
        return self._relay.subscribe(self._output, buffered=False)

    def keyframe(self) -> None:
        """A receiver joined or lost a picture: a keyframe now, not at the next periodic one.

        At most one per KEYFRAME_GAP: several viewers asking at once get the same keyframe.
        """
        force = getattr(self._output, "force_keyframe", None)
        now = time.monotonic()
        if force is not None and now - self._last_keyframe >= KEYFRAME_GAP:
            self._last_keyframe = now
            force()

    def camera(self, track: MediaStreamTrack) -> None:
        """The publisher's camera arrived on its peer connection."""
        self._on_camera(track)

    # -- what clients are told ----------------------------------------------------------------

    def info(self) -> models.Room:
        return models.Room(
            sid=self.sid,
            name=self.name,
            empty_timeout=60,
            departure_timeout=20,
            creation_time=int(self.created),
            creation_time_ms=int(self.created * 1000),
            num_participants=len(self.connections) + 1,
            num_publishers=1,
        )

    def output_track_info(self) -> models.TrackInfo:
        return models.TrackInfo(
            sid=self.track_sid,
            type=models.TrackType.VIDEO,
            name="inference",
            width=self.width,
            height=self.height,
            source=models.TrackSource.CAMERA,
            mime_type="video/VP8",
        )

    def inference_participant(self) -> models.ParticipantInfo:
        return models.ParticipantInfo(
            sid=self.inference_sid,
            identity=self.inference_identity,
            name=self.inference_identity,
            state=models.ParticipantInfo.State.ACTIVE,
            tracks=[self.output_track_info()],
            joined_at=int(self.created),
            joined_at_ms=int(self.created * 1000),
            is_publisher=True,
            kind=models.ParticipantInfo.Kind.AGENT,
            permission=models.ParticipantPermission(can_publish=True, can_subscribe=False, can_publish_data=True),
        )

    # -- lifetime -----------------------------------------------------------------------------

    def add(self, connection: ParticipantConnection) -> None:
        # One connection per identity: a client that reconnects replaces its old connection.
        for old in list(self.connections):
            if old.identity == connection.identity:
                self.connections.discard(old)
                old.replaced()
        self.connections.add(connection)

    def remove(self, connection: ParticipantConnection) -> None:
        self.connections.discard(connection)

    async def close(self, reason: int = models.DisconnectReason.ROOM_DELETED) -> None:
        """Tell every participant to leave and close their connections."""
        self.closed = True
        for connection in list(self.connections):
            await connection.close(reason)
        self.connections.clear()

    def connection_count(self) -> int:
        return len(self.connections)

    def __repr__(self) -> str:
        return f"Room({self.name!r})"


def room_name() -> str:
    return "room-" + secrets.token_hex(8)


__all__ = ["Room", "room_name", "new_sid", "INFERENCE_PREFIX"]


"""Options of `RealtimeClient.connect`, shaped like the official SDK's so scripts port over."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Literal

from decart_flow.realtime.models import ModelDefinition
from decart_flow.realtime.session import ImageInput


@dataclass(frozen=True)
class Prompt:
    text: str
    enrich: bool = True

    @property
    def enhance(self) -> bool:
        """The 0.0.40 SDK's name for `enrich`."""
        return self.enrich


@dataclass(frozen=True)
class ModelState:
    """What the session starts with: sent as the one initial-state message before the offer."""

    prompt: Prompt | None = None
    mirror: bool = False
    image: ImageInput = None


@dataclass
class RealtimeConnectOptions:
    """`model` is a definition or a name. `ice_servers` is used only for a service off this machine.

    `max_attempts` and `retry_delay` shape the backoff of transient connect failures (delay doubles
    per attempt, capped at 10 s). `connect_timeout` bounds one attempt after the offer is sent.

    After a session that was up drops, `reconnect_attempts` bounds the tries to get it back; None
    keeps trying (every 10 s at most) until `disconnect()`, as an installation running for weeks
    needs. A refused key ends the retrying either way. `stall_timeout`: with the WebSocket up but no
    video frame for this many seconds, the session counts as dropped (None: never).
    """

    model: ModelDefinition | str
    on_remote_stream: Callable[[Any], None] | None = None
    initial_state: ModelState | None = None
    resolution: Literal["720p", "1080p"] | None = None
    ice_servers: list[Any] | None = None
    max_attempts: int = 5
    retry_delay: float = 1.0
    connect_timeout: float = 30.0
    reconnect: bool = True
    reconnect_attempts: int | None = 5
    stall_timeout: float | None = 10.0
    # "livekit" (today's cloud) or "p2p" (2025); None: LiveKit for a model of today off this
    # machine, else peer-to-peer (see `client.default_protocol`).
    protocol: Literal["livekit", "p2p"] | None = None
    speed: Literal["fast"] | None = None
    # Over capacity: called with each `QueuePosition` while this session waits for a slot.
    on_queue_position: Callable[[Any], None] | None = None

"""The session interface: what the engine needs from a live Decart session.

`RealtimeClient` (the wire client) implements it. `plan` uses a virtual session that acknowledges
at once, so a plan is the very run the engine would do, minus the wire.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Literal, Protocol, Union, runtime_checkable

ConnectionState = Literal["connecting", "connected", "generating", "reconnecting", "disconnected"]
ImageInput = Union[bytes, str, Path, None]
AudioInput = Union[bytes, str, Path]
SessionEvent = Literal["connection_change", "error", "generation_tick"]


@runtime_checkable
class Session(Protocol):
    session_id: str | None

    async def set_prompt(self, text: str, enrich: bool = True) -> None: ...

    async def set_image(self, image: ImageInput, prompt: str | None = None, enrich: bool = True) -> None: ...

    async def set_mirror(self, enabled: bool) -> None: ...

    async def play_audio(self, audio: AudioInput) -> None: ...

    def is_connected(self) -> bool: ...

    def get_connection_state(self) -> ConnectionState: ...

    def on(self, event: SessionEvent, callback: Callable[[Any], None]) -> None: ...

    def off(self, event: SessionEvent, callback: Callable[[Any], None]) -> None: ...

    async def disconnect(self) -> None: ...

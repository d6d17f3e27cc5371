"""The realtime client: the Python API of the official seed SDK, speaking the team's PROTOCOL.md.

    client = await RealtimeClient.connect(url, key, track, RealtimeConnectOptions(
        model=models.realtime("mirage"), on_remote_stream=show,
        initial_state=ModelState(prompt=Prompt("neon city"))))
    await client.set_prompt("underwater")
    await client.disconnect()
"""

from __future__ import annotations

from decart_flow.realtime import models
from decart_flow.realtime.errors import (
    DecartSDKError,
    InvalidAPIKeyError,
    InvalidInputError,
    ModelNotFoundError,
    NotConnectedError,
    TokenCreateError,
    WebRTCError,
)
from decart_flow.realtime.models import ModelDefinition
from decart_flow.realtime.session import Session
from decart_flow.realtime.types import ModelState, Prompt, RealtimeConnectOptions
from decart_flow.realtime.urls import redact_url

__all__ = [
    "DecartClient",
    "DecartSDKError",
    "GenerationTick",
    "InvalidAPIKeyError",
    "InvalidInputError",
    "MediaLoop",
    "ModelDefinition",
    "ModelNotFoundError",
    "ModelState",
    "NotConnectedError",
    "Prompt",
    "RealtimeClient",
    "RealtimeConnectOptions",
    "Session",
    "TokenCreateError",
    "TokenResponse",
    "WebRTCError",
    "models",
    "redact_url",
]

# aiortc and aiohttp load only when the client itself is used, so importing the Session protocol
# (the engine, `plan`, `validate`) stays cheap.
_LAZY = {
    "DecartClient": "decart_flow.realtime.api",
    "TokenResponse": "decart_flow.realtime.api",
    "RealtimeClient": "decart_flow.realtime.client",
    "GenerationTick": "decart_flow.realtime.client",
    "MediaLoop": "decart_flow.realtime.media_loop",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'decart_flow.realtime' has no attribute {name!r}")

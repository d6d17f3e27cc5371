"""The JSON messages of PROTOCOL.md: builders for what we send, a checker for what we receive.

The checker is strict about the fields we act on, so a malformed message is refused in one place
(and then logged and skipped by the caller) instead of failing deep in a handler.
"""

from __future__ import annotations

import json
from typing import Any


class MalformedMessage(ValueError):
    """A frame from the service that is not a protocol message we can act on."""


def _utf8(text: str) -> str:
    """Text for the wire: a lone surrogate is not UTF-8, and a service cannot decode it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        from decart_flow.realtime.errors import InvalidInputError

        raise InvalidInputError(
            f"prompt character {exc.start + 1} ({ascii(text[exc.start])[1:-1]}) is not valid Unicode: not sent"
        ) from None
    return text


def prompt(text: str, enhance: bool) -> dict[str, Any]:
    return {"type": "prompt", "prompt": _utf8(text), "enhance_prompt": enhance}


def set_image(image_b64: str | None, prompt_text: str | None = None, enhance: bool | None = None) -> dict[str, Any]:
    if prompt_text is not None:
        _utf8(prompt_text)
    message: dict[str, Any] = {"type": "set_image", "image_data": image_b64}
    if prompt_text is not None or image_b64 is None:
        message["prompt"] = prompt_text
    if prompt_text is not None and enhance is not None:
        message["enhance_prompt"] = enhance
    return message


def switch_camera(mirror: bool) -> dict[str, Any]:
    return {"type": "switch_camera", "rotateY": 2 if mirror else 0}


def offer(sdp: str) -> dict[str, Any]:
    return {"type": "offer", "sdp": sdp}


def livekit_join() -> dict[str, Any]:
    """Today's protocol: ask for a LiveKit room (the initial state follows as its own message)."""
    return {"type": "livekit_join"}


# Required fields of each incoming type and the Python types they must have.
_OPTIONAL_STR = (str, type(None))
_INCOMING: dict[str, dict[str, Any]] = {
    "answer": {"sdp": str},
    "prompt_ack": {"prompt": str, "success": bool},
    "set_image_ack": {"success": bool},
    "session_id": {"session_id": str, "server_ip": str, "server_port": int},
    "generation_started": {},
    "generation_tick": {"seconds": (int, float)},
    "generation_ended": {},
    "error": {"error": str},
    "ice-candidate": {},
    "ready": {},
    "ice-restart": {},
    "livekit_room_info": {"livekit_url": str, "token": str, "room_name": str},
    "queue_position": {"position": int, "queue_size": int},
}


def parse(text: str | bytes) -> dict[str, Any]:
    """Decode and check one frame; raises `MalformedMessage` saying what is wrong."""
    try:
        data = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise MalformedMessage(f"not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise MalformedMessage(f"expected a JSON object, got {type(data).__name__}")
    kind = data.get("type")
    if not isinstance(kind, str):
        raise MalformedMessage("no string 'type' field")
    fields = _INCOMING.get(kind)
    if fields is None:
        raise MalformedMessage(f"unknown type {kind!r}")
    for name, types in fields.items():
        value = data.get(name)
        # bool is an int in Python: a `true` port or tick count is still malformed.
        if not isinstance(value, types) or (types is not bool and isinstance(value, bool)):
            raise MalformedMessage(f"{kind}: field {name!r} missing or of the wrong type")
    if "error" in data and kind != "error" and not isinstance(data["error"], _OPTIONAL_STR):
        raise MalformedMessage(f"{kind}: field 'error' must be a string or null")
    return data

"""The realtime models the service knows, with the frame rate and size each one streams at."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelSpec:
    name: str
    fps: int
    width: int
    height: int
    avatar: bool = False


_AVATAR = ModelSpec("live_avatar", 25, 1280, 720, avatar=True)

MODELS: dict[str, ModelSpec] = {
    "mirage": ModelSpec("mirage", 25, 1280, 704),
    "mirage_v2": ModelSpec("mirage_v2", 22, 1280, 704),
    "lucy_v2v_720p_rt": ModelSpec("lucy_v2v_720p_rt", 25, 1280, 704),
    # Early SDKs spelled the avatar model three ways; all of them mean the same model.
    "live_avatar": _AVATAR,
    "live-avatar": _AVATAR,
    "avatar-live": _AVATAR,
}


def find_model(name: str | None) -> ModelSpec | None:
    return MODELS.get(name or "")

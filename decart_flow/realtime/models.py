"""The realtime models of the seed era and their output geometry (PROTOCOL.md, "Models of that era")."""

from __future__ import annotations

from dataclasses import dataclass

from decart_flow.realtime.errors import ModelNotFoundError

STREAM_PATH = "/v1/stream"


@dataclass(frozen=True)
class ModelDefinition:
    """What a client needs to open a session: the name sent on the wire, its path and frame size."""

    name: str
    url_path: str
    fps: int
    width: int
    height: int

    @property
    def is_avatar(self) -> bool:
        return self.name in AVATAR_NAMES


AVATAR_NAMES = ("live_avatar", "live-avatar", "avatar-live")

_REALTIME: dict[str, ModelDefinition] = {
    "mirage": ModelDefinition("mirage", STREAM_PATH, 25, 1280, 704),
    "mirage_v2": ModelDefinition("mirage_v2", STREAM_PATH, 22, 1280, 704),
    "lucy_v2v_720p_rt": ModelDefinition("lucy_v2v_720p_rt", STREAM_PATH, 25, 1280, 704),
    # The name is kept as given: the 0.0.37 SDK sent `live-avatar` and services accept all three.
    **{name: ModelDefinition(name, STREAM_PATH, 25, 1280, 720) for name in AVATAR_NAMES},
}

REALTIME_MODELS: tuple[str, ...] = tuple(_REALTIME)


def realtime(name: str) -> ModelDefinition:
    """The definition of a realtime model; `ModelNotFoundError` for any other name."""
    try:
        return _REALTIME[name]
    except (KeyError, TypeError):
        known = ", ".join(REALTIME_MODELS)
        raise ModelNotFoundError(str(name), f"Model {name!r} not found (realtime models: {known})") from None

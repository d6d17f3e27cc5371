"""The realtime models of both protocol eras and their output geometry (PROTOCOL.md).

The one table of models: the client, the local service and the show language all read it.
Models of today (2026) are served by Decart's cloud over LiveKit; the 2025 models were retired
from the cloud and only the local service serves them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from decart_flow.realtime.errors import ModelNotFoundError

STREAM_PATH = "/v1/stream"
#: every path a client may open a stream on: early Python SDKs used the second for the avatar
STREAM_PATHS = (STREAM_PATH, "/v1/avatar-live/stream")
RESOLUTIONS = ("720p", "1080p")


@dataclass(frozen=True)
class ModelDefinition:
    """What a client needs to open a session: the name sent on the wire, its path and frame size."""

    name: str
    url_path: str
    fps: int
    width: int
    height: int
    era: int = 2025  # 2025: peer-to-peer WebRTC; 2026: the LiveKit protocol of today's cloud
    kind: str = "restyle"  # restyle | edit | vton | avatar
    fast: bool = False  # takes `speed=fast`
    successor: str | None = None  # the model of today that replaced a retired one

    @property
    def is_avatar(self) -> bool:
        return self.kind == "avatar"

    @property
    def retired(self) -> bool:
        """Retired from Decart's cloud in 2026: only a local service serves it."""
        return self.era == 2025

    @property
    def resolutions(self) -> tuple[str, ...]:
        return RESOLUTIONS if self.era == 2026 else ()

    def size_at(self, resolution: str | None) -> tuple[int, int]:
        """Width and height of the output at `resolution` (1080p keeps the model's aspect)."""
        if resolution == "1080p" and self.era == 2026:
            return 1920, self.height * 1920 // self.width // 8 * 8
        return self.width, self.height

    def option_problem(self, resolution: str | None, speed: str | None) -> str | None:
        """Why `resolution` / `speed` cannot be asked of this model, or None."""
        if resolution is not None and resolution not in self.resolutions:
            if not self.resolutions:
                return f"{self.name} has no resolution option (a 2025 model streams {self.width}x{self.height})"
            return f"resolution must be one of {', '.join(self.resolutions)}, got {resolution!r}"
        if speed is not None:
            if speed != "fast":
                return f"speed must be 'fast', got {speed!r}"
            if not self.fast:
                fast = ", ".join(m.name for m in _TODAY if m.fast)
                return f"{self.name} has no `speed: fast` (models that have it: {fast})"
        return None


AVATAR_NAMES = ("live_avatar", "live-avatar", "avatar-live")

_RESTYLE_TODAY = "lucy-restyle-2"

_TODAY = (
    ModelDefinition("lucy-restyle-2", STREAM_PATH, 30, 1280, 704, era=2026),
    ModelDefinition("lucy-2.1", STREAM_PATH, 30, 1280, 720, era=2026, kind="edit"),
    ModelDefinition("lucy-2.5", STREAM_PATH, 30, 1280, 720, era=2026, kind="edit", fast=True),
    ModelDefinition("lucy-2.6", STREAM_PATH, 30, 1280, 720, era=2026, kind="edit", fast=True),
    ModelDefinition("lucy-vton-3.5", STREAM_PATH, 30, 1280, 720, era=2026, kind="vton", fast=True),
    ModelDefinition("lucy-vton-3.6", STREAM_PATH, 30, 1280, 720, era=2026, kind="vton", fast=True),
)
# Aliases resolve to the model they name today; the alias is what goes on the wire.
ALIASES = {
    "lucy-restyle-latest": "lucy-restyle-2",
    "lucy-latest": "lucy-2.6",
    "lucy-vton-latest": "lucy-vton-3.6",
}

_AVATAR = ModelDefinition("live_avatar", STREAM_PATH, 25, 1280, 720, kind="avatar")

_REALTIME: dict[str, ModelDefinition] = {
    **{m.name: m for m in _TODAY},
    "mirage": ModelDefinition("mirage", STREAM_PATH, 25, 1280, 704, successor=_RESTYLE_TODAY),
    "mirage_v2": ModelDefinition("mirage_v2", STREAM_PATH, 22, 1280, 704, successor=_RESTYLE_TODAY),
    "lucy_v2v_720p_rt": ModelDefinition("lucy_v2v_720p_rt", STREAM_PATH, 25, 1280, 704, successor=_RESTYLE_TODAY),
    # The name is kept as given: the 0.0.37 SDK sent `live-avatar` and services accept all three.
    **{name: ModelDefinition(name, STREAM_PATH, 25, 1280, 720, kind="avatar") for name in AVATAR_NAMES},
}
for _alias, _target in ALIASES.items():
    _REALTIME[_alias] = replace(_REALTIME[_target], name=_alias)

REALTIME_MODELS: tuple[str, ...] = tuple(_REALTIME)
TODAY_MODELS: tuple[str, ...] = tuple(m.name for m in _TODAY)
RETIRED_MODELS: tuple[str, ...] = tuple(n for n, m in _REALTIME.items() if m.retired and n not in AVATAR_NAMES[1:])


def realtime(name: str) -> ModelDefinition:
    """The definition of a realtime model; `ModelNotFoundError` for any other name."""
    try:
        return _REALTIME[name]
    except (KeyError, TypeError):
        known = ", ".join(REALTIME_MODELS)
        raise ModelNotFoundError(str(name), f"Model {name!r} not found (realtime models: {known})") from None


def find(name: str | None) -> ModelDefinition | None:
    """The definition of `name`, or None: for a service answering whatever a client asked."""
    return _REALTIME.get(name or "")


def canonical(name: str) -> str:
    """The model a name stands for: an alias's target, the avatar's spellings as `live_avatar`."""
    if name in ALIASES:
        return ALIASES[name]
    return "live_avatar" if name in AVATAR_NAMES else name

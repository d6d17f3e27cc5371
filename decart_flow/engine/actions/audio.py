"""`audio: PATH`: a clip through the session's audio track; the cue's `then` waits for its end."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ...show import checks
from ...show.model import AudioAction
from ...show.nodes import caller, value_node
from . import ActionKind, sessions

if TYPE_CHECKING:
    from ...show.reading import Ctx, Found, Reader
    from ...show.model import Where
    from ...show.nodes import Node
    from . import ActionContext


def read(c: Reader, found: Found, key: str, ctx: Ctx) -> AudioAction | None:
    node, value = found[key]
    path = c.file(value, "audio", checks.audio_problem)
    return AudioAction(path, node.where, checks.audio_seconds(path)) if path is not None else None


def perform(action: AudioAction, ctx: ActionContext) -> Any:
    session = ctx.show.session
    return ctx.show.send("audio", lambda: session.play_audio(action.path), {"audio": action.path}, ctx.cue, wait=True)


def pairs(action: AudioAction, where: Where) -> list[tuple[str, Node]]:
    return [("audio", value_node(action.path, where))]


def label(action: AudioAction) -> str:
    return f"audio {os.path.basename(action.path)}"


def model_problem(action: AudioAction, model: str) -> str | None:
    if model and model != checks.AVATAR_MODEL:
        return f"audio: plays only on the live_avatar model ({model} plays no audio)"
    return None


def audio(path: str | os.PathLike[str], to: str | list[str] | None = None) -> AudioAction:
    return AudioAction(os.fspath(path), caller(), to=sessions(to))


# Catch-up does not know when a clip ends (span None): nothing after it in a `then` counts.
KIND = ActionKind(AudioAction, ("audio",), read, perform, pairs, label, python="audio", build=audio, sequential=True,
                  span=lambda a: None, model_problem=model_problem, routed="each",
                  cloud_problem=lambda a: "audio: no model of Decart's cloud plays audio since 2026 "
                                          "(live_avatar was retired); play this show on the local service")

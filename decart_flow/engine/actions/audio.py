"""`audio: PATH`: a clip through the session's audio track; the cue's `then` waits for its end."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...show.model import AudioAction

if TYPE_CHECKING:
    from . import ActionContext


def perform(action: AudioAction, ctx: ActionContext) -> Any:
    session = ctx.engine.session
    return ctx.engine.send("audio", lambda: session.play_audio(action.path), {"audio": action.path}, ctx.cue,
                           wait=True)

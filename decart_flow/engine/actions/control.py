"""`go: next / back`, `pause`, `resume`, `stop`: the same intents as the TUI keys."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...show.model import ControlAction

if TYPE_CHECKING:
    from . import ActionContext


def perform(action: ControlAction, ctx: ActionContext) -> Any:
    engine = ctx.engine
    cmd = action.command
    engine.note(ctx.cue, {"go": cmd} if cmd in ("next", "back") else {cmd: True})
    if cmd == "next":
        engine.go_next()
    elif cmd == "back":
        engine.go_back()
    elif cmd == "pause":
        engine.pause()
    elif cmd == "resume":
        engine.resume()
    else:
        engine.stop("cue")
    return None

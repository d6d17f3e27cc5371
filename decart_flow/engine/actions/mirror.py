"""`mirror: true / false / toggle`; toggle flips what the engine last sent."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...show.model import MirrorAction

if TYPE_CHECKING:
    from . import ActionContext


def perform(action: MirrorAction, ctx: ActionContext) -> Any:
    engine = ctx.engine
    value = (not engine.mirror) if action.value == "toggle" else bool(action.value)
    engine.mirror = value  # at once, so two toggles in a row flip twice
    session = engine.session
    engine.send("mirror", lambda: session.set_mirror(value), {"mirror": value}, ctx.cue)
    return None

"""`log: TEXT`: a line in the journal (and so in the TUI log)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...show.model import LogAction
from ..choices import fill

if TYPE_CHECKING:
    from . import ActionContext


def perform(action: LogAction, ctx: ActionContext) -> Any:
    text = fill(action.text, ctx.args)
    ctx.engine.note(ctx.cue, {"log": text})
    ctx.engine.journal.write("log", cue=ctx.cue, text=text)
    return None

"""`prompt: TEXT` (or a choice) with `enhance:`: one `prompt` message, latest-wins."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...show.model import PromptAction

if TYPE_CHECKING:
    from . import ActionContext


def perform(action: PromptAction, ctx: ActionContext) -> Any:
    engine = ctx.engine
    text = engine.choices.resolve(action.text, ctx.cue, ctx.place, ctx.args)
    session = engine.session
    engine.send("prompt", lambda: session.set_prompt(text, enrich=action.enhance),
                {"prompt": text, "enhance": action.enhance}, ctx.cue)
    return None

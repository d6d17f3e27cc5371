"""`image:` (with an optional `prompt:` beside it): one `set_image`; `image: null` clears it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...show.model import ImageAction

if TYPE_CHECKING:
    from . import ActionContext


def perform(action: ImageAction, ctx: ActionContext) -> Any:
    engine = ctx.engine
    text = None if action.prompt is None else engine.choices.resolve(action.prompt, ctx.cue, ctx.place, ctx.args)
    session = engine.session
    desc: dict[str, Any] = {"image": action.image}
    if text is not None:
        desc.update(prompt=text, enhance=action.enhance)
    engine.send("image", lambda: session.set_image(action.image, prompt=text, enrich=action.enhance), desc, ctx.cue)
    return None

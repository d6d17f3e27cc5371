"""`image:` (with an optional `prompt:` beside it): one `set_image`; `image: null` clears it."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Mapping

from ...show.model import ImageAction, PromptAction
from ...show.nodes import caller, scalar, text_node, value_node
from . import ActionKind, sessions

if TYPE_CHECKING:
    from ...show.reading import Ctx, Found, Reader
    from ...show.model import Where
    from ...show.nodes import Node
    from . import ActionContext


def read(c: Reader, found: Found, key: str, ctx: Ctx) -> ImageAction | None:
    node, value = found[key]
    enhance = c.enhance(found)
    clear = value.is_scalar and value.value is None
    image = None if clear else c.image(value)
    if image is None and not clear:
        return None
    text = c.prompt(found["prompt"][1], ctx) if "prompt" in found else None
    return ImageAction(image, text, enhance, node.where)


def perform(action: ImageAction, ctx: ActionContext) -> Any:
    show = ctx.show
    text = None if action.prompt is None else show.resolve(action.prompt, ctx.cue, ctx.place, ctx.args)
    session = show.session
    desc: dict[str, Any] = {"image": action.image}
    if text is not None:
        desc.update(prompt=text, enhance=action.enhance)
    show.send("image", lambda: session.set_image(action.image, prompt=text, enrich=action.enhance), desc, ctx.cue)
    return None


def pairs(action: ImageAction, where: Where) -> list[tuple[str, Node]]:
    out = [("image", value_node(action.image, where))]
    if action.prompt is not None:
        out.append(("prompt", text_node(action.prompt, where)))
    return out + ([("enhance", scalar(False, where))] if not action.enhance else [])


def label(action: ImageAction) -> str:
    name = os.path.basename(action.image) if action.image else "clear"
    return f"image {name}" + (f", {action.prompt}" if isinstance(action.prompt, str) else "")


def sets(action: ImageAction) -> tuple[str, ...]:
    return ("image", "prompt") if action.prompt is not None else ("image",)


def restore(key: str, state: Mapping[str, Any]) -> ImageAction:
    return ImageAction(state["image"])


def image(path: str | os.PathLike[str] | None, prompt: str | PromptAction | None = None, enhance: bool = True,
          to: str | list[str] | None = None) -> ImageAction:
    """The reference image (a path, an http(s) URL, or None to clear), with an optional prompt."""
    text = prompt.text if isinstance(prompt, PromptAction) else prompt
    return ImageAction(None if path is None else os.fspath(path), text, enhance, caller(), sessions(to))


KIND = ActionKind(ImageAction, ("image",), read, perform, pairs, label, companions=("prompt", "enhance"),
                  python="image", build=image, sets=sets, restores=("image",), restore=restore, routed="each")

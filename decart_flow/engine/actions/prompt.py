"""`prompt: TEXT` (or a choice) with `enhance:`: one `prompt` message, latest-wins."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from ...show.model import Choice, PromptAction
from ...show.nodes import caller, scalar, text_node
from . import ActionKind, sessions

if TYPE_CHECKING:
    from ...show.reading import Ctx, Found, Reader
    from ...show.model import Where
    from ...show.nodes import Node
    from . import ActionContext


def read(c: Reader, found: Found, key: str, ctx: Ctx) -> PromptAction | None:
    enhance = c.enhance(found)
    text = c.prompt(found[key][1], ctx)
    return PromptAction(text, enhance, found[key][0].where) if text is not None else None


def perform(action: PromptAction, ctx: ActionContext) -> Any:
    show = ctx.show
    text = show.resolve(action.text, ctx.cue, ctx.place, ctx.args)
    session = show.session
    show.send("prompt", lambda: session.set_prompt(text, enrich=action.enhance),
              {"prompt": text, "enhance": action.enhance}, ctx.cue)
    return None


def pairs(action: PromptAction, where: Where) -> list[tuple[str, Node]]:
    return [("prompt", text_node(action.text, where))] + ([("enhance", scalar(False, where))] if not action.enhance else [])


def label(action: PromptAction) -> str:
    text = action.text
    return f"{text.kind}: {', '.join(text.items)}" if isinstance(text, Choice) else str(text)


def restore(key: str, state: Mapping[str, Any]) -> PromptAction:
    return PromptAction(state["prompt"] or "", enhance=bool(state["enhance"]))


class _Prompt:
    """`prompt("text")`, and `prompt.cycle(...)`, `prompt.shuffle(...)`, `prompt.random(...)`."""

    def __call__(self, text: str, enhance: bool = True, to: str | list[str] | None = None) -> PromptAction:
        return PromptAction(text, enhance, caller(), sessions(to))

    def _choice(self, kind: str, items: tuple[Any, ...], enhance: bool, to: Any) -> PromptAction:
        if len(items) == 1 and isinstance(items[0], (list, tuple)):
            items = tuple(items[0])
        return PromptAction(Choice(kind, tuple(items)), enhance, caller(), sessions(to))  # type: ignore[arg-type]

    def cycle(self, *items: str, enhance: bool = True, to: str | list[str] | None = None) -> PromptAction:
        return self._choice("cycle", items, enhance, to)

    def shuffle(self, *items: str, enhance: bool = True, to: str | list[str] | None = None) -> PromptAction:
        return self._choice("shuffle", items, enhance, to)

    def random(self, *items: str, enhance: bool = True, to: str | list[str] | None = None) -> PromptAction:
        return self._choice("random", items, enhance, to)


KIND = ActionKind(PromptAction, ("prompt",), read, perform, pairs, label, companions=("enhance",), python="prompt",
                  build=_Prompt(), sets=lambda a: ("prompt",), restores=("prompt",), restore=restore, routed="each")

"""`log: TEXT`: a line in the journal (and so in the TUI log)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...show.model import LogAction
from ...show.nodes import caller, value_node
from ..choices import fill
from . import ActionKind

if TYPE_CHECKING:
    from ...show.reading import Ctx, Found, Reader
    from ...show.model import Where
    from ...show.nodes import Node
    from . import ActionContext


def read(c: Reader, found: Found, key: str, ctx: Ctx) -> LogAction | None:
    node, value = found[key]
    text = c.prompt_text(value, ctx, "log")
    return LogAction(text, node.where) if text is not None else None


def perform(action: LogAction, ctx: ActionContext) -> Any:
    text = fill(action.text, ctx.args)
    ctx.show.note(ctx.cue, {"log": text})
    ctx.show.log(ctx.cue, text)
    return None


def pairs(action: LogAction, where: Where) -> list[tuple[str, Node]]:
    return [("log", value_node(action.text, where))]


def label(action: LogAction) -> str:
    return f"log {action.text}"


def log(text: str) -> LogAction:
    return LogAction(text, caller())


KIND = ActionKind(LogAction, ("log",), read, perform, pairs, label, python="log", build=log)

"""`go: next / back`, `pause`, `resume`, `stop`: the same intents as the TUI keys."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...show.model import ControlAction
from ...show.nodes import caller, value_node
from ...show.problems import did_you_mean
from . import ActionKind

if TYPE_CHECKING:
    from ...show.reading import Ctx, Found, Reader
    from ...show.model import Where
    from ...show.nodes import Node
    from . import ActionContext

COMMANDS = ("next", "back", "pause", "resume", "stop")


def read(c: Reader, found: Found, key: str, ctx: Ctx) -> ControlAction | None:
    node, value = found[key]
    if key == "go":
        command = value.scalar_text() if value.is_scalar else None
        if command in COMMANDS:
            return ControlAction(command, node.where)  # type: ignore[arg-type]
        hint = did_you_mean(str(command), COMMANDS)
        c.error(value.where, f"go: '{command}' is not a command{hint}: use next, back, pause, resume or stop")
        return None
    if value.is_scalar and value.value in (None, True):
        return ControlAction(key, node.where)  # type: ignore[arg-type]
    c.error(value.where, f"{key}: takes no value (write `{key}:` or `go: {key}`)")
    return None


def perform(action: ControlAction, ctx: ActionContext) -> Any:
    cmd = action.command
    ctx.show.note(ctx.cue, {"go": cmd} if cmd in ("next", "back") else {cmd: True})
    ctx.show.control(cmd)
    return None


def pairs(action: ControlAction, where: Where) -> list[tuple[str, Node]]:
    return [("go", value_node(action.command, where))]


def label(action: ControlAction) -> str:
    return f"go {action.command}"


def go(command: str = "next") -> ControlAction:
    """`go("next")`, `go("back")`, `go("pause")`, `go("resume")`, `go("stop")`."""
    return ControlAction(command, caller())  # type: ignore[arg-type]


KIND = ActionKind(ControlAction, ("go", "pause", "resume", "stop"), read, perform, pairs, label, python="go", build=go)

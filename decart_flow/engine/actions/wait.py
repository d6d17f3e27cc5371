"""`wait: D` inside `then`: show time, so a paused show pauses its sequences too."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...show.model import WaitAction
from ...show.nodes import caller, value_node
from ...show.problems import Problem, ShowError
from ...show.times import parse_duration
from . import ActionKind

if TYPE_CHECKING:
    from ...show.reading import Ctx, Found, Reader
    from ...show.model import Where
    from ...show.nodes import Node
    from . import ActionContext


def read(c: Reader, found: Found, key: str, ctx: Ctx) -> WaitAction | None:
    node, value = found[key]
    if not ctx.in_then:
        c.error(node.where, "wait: only inside a cue's then: list (it pauses between its steps)")
        return None
    seconds = c.duration(value, allow_zero=True)
    return WaitAction(seconds, node.where) if seconds is not None else None


def perform(action: WaitAction, ctx: ActionContext) -> Any:
    return ctx.show.sleep(action.seconds)


def pairs(action: WaitAction, where: Where) -> list[tuple[str, Node]]:
    return [("wait", value_node(action.seconds, where))]


def label(action: WaitAction) -> str:
    return f"wait {action.seconds:g}s"


def wait(duration: str | float) -> WaitAction:
    where = caller()
    try:
        return WaitAction(parse_duration(duration, allow_zero=True), where)
    except ValueError as e:
        raise ShowError([Problem(where, str(e))]) from None


KIND = ActionKind(WaitAction, ("wait",), read, perform, pairs, label, python="wait", build=wait, sequential=True,
                  span=lambda a: a.seconds, in_body=False)
